// Type-level tests: `npm run typecheck` fails if the public types drift; vitest runs the few runtime lines.
import type { RequestHandler } from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import {
  checks,
  corsSecurity,
  errorHandler,
  health,
  keepAlive,
  lifeline,
  type CheckReturn,
  type HealthCheck,
  type LifelineOptions,
} from '../src/index.js';

describe('public types', () => {
  it('middlewares fit app.use() of Express and expose close()', () => {
    expectTypeOf(lifeline).returns.toMatchTypeOf<RequestHandler>();
    expectTypeOf(keepAlive).returns.toMatchTypeOf<RequestHandler>();
    expectTypeOf(health).returns.toMatchTypeOf<RequestHandler>();
    expectTypeOf(corsSecurity).returns.toMatchTypeOf<RequestHandler>();
    expectTypeOf(lifeline).returns.toHaveProperty('close').returns.resolves.toBeVoid();
    expectTypeOf(errorHandler).returns.parameters.toMatchTypeOf<[unknown, ...unknown[]]>();
  });

  it('checks are async functions or objects, and options are typed', () => {
    expectTypeOf(checks.staticFiles).returns.toEqualTypeOf<HealthCheck>();
    expectTypeOf<HealthCheck['check']>().returns.toMatchTypeOf<Promise<CheckReturn | void> | CheckReturn | void>();
    expectTypeOf<LifelineOptions['health']>().toMatchTypeOf<boolean | object | undefined>();
    // @ts-expect-error details is a union of literals
    expectTypeOf<Parameters<typeof health>[0]>().toMatchTypeOf<{ details: 'sometimes' }>();
    // @ts-expect-error interval is a number
    keepAlive.bind(null, { interval: '30s' });
  });
});
