import type { Express } from 'express';

/** The Express major the suite runs against: 5 by default, 4 with LIFELINE_TEST_EXPRESS=4. */
export const expressMajor = process.env.LIFELINE_TEST_EXPRESS === '4' ? 4 : 5;

type ExpressFactory = (() => Express) & { json(options?: { limit?: string }): (req: unknown, res: unknown, next: () => void) => void };

const loaded = (await import(expressMajor === 4 ? 'express4' : 'express')) as { default: ExpressFactory };

/** A new Express app of the major under test. */
export const express = loaded.default;
