import type { Request } from 'express';
import { ApiError, badRequest, notFound } from './http.js';

/** Database ids are 32-bit integers (PostgreSQL `integer`): anything larger names nothing. */
export const MAX_ID = 2_147_483_647;

/** One query parameter as a string; a repeated or nested one is a 400. */
export function param(req: Request, name: string): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest({ [name]: ['Expected a single value.'] });
  if (value.includes('\0')) throw badRequest({ [name]: ['Null characters are not allowed.'] });
  return value;
}

/** The `:id` of a path: a positive 32-bit integer, else the object does not exist (404). */
export function idParam(req: Request): number {
  const raw = String(req.params.id ?? '');
  if (!/^\d{1,10}$/.test(raw)) throw notFound();
  const id = Number(raw);
  if (id < 1 || id > MAX_ID) throw notFound();
  return id;
}

/** Whether `value` is a positive database id. */
export const isId = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_ID;

/** `?server_id=1,2`: a list of ids. */
export function idList(req: Request, name: string): number[] | undefined {
  const raw = param(req, name);
  if (raw === undefined || raw.trim() === '') return undefined;
  const ids: number[] = [];
  for (const part of raw.split(',')) {
    const text = part.trim();
    const id = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
    if (!isId(id)) throw badRequest({ [name]: [`"${text.slice(0, 50)}" is not a valid id.`] });
    if (!ids.includes(id)) ids.push(id);
  }
  if (ids.length > 1000) throw badRequest({ [name]: ['Ensure there are no more than 1000 ids.'] });
  return ids;
}

/** `?status=up,down`: a list of choices. */
export function choiceList<T extends string>(req: Request, name: string, allowed: readonly T[]): T[] | undefined {
  const raw = param(req, name);
  if (raw === undefined || raw.trim() === '') return undefined;
  const out: T[] = [];
  for (const part of raw.split(',')) {
    const text = part.trim();
    if (!(allowed as readonly string[]).includes(text)) throw badRequest({ [name]: [`"${text.slice(0, 50)}" is not a valid choice.`] });
    if (!out.includes(text as T)) out.push(text as T);
  }
  return out;
}

const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/** `?since=2026-11-30T06:00:00Z`: epoch ms. */
export function dateParam(req: Request, name: string): number | undefined {
  const raw = param(req, name);
  if (raw === undefined || raw.trim() === '') return undefined;
  const text = raw.trim().replace(' ', 'T');
  const ms = ISO.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw badRequest({ [name]: ['Enter a valid date/time (ISO 8601, e.g. 2026-11-30T06:00:00Z).'] });
  return ms;
}

export function booleanParam(req: Request, name: string): boolean | undefined {
  const raw = param(req, name)?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw badRequest({ [name]: ['Must be a valid boolean.'] });
}

export function positiveParam(req: Request, name: string, max: number): number | undefined {
  const raw = param(req, name)?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1) throw badRequest({ [name]: ['A valid positive integer is required.'] });
  return Math.min(n, max);
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface PageRequest {
  page: number;
  size: number;
  offset: number;
}

/**
 * `?page=` (from 1) and `?page_size=` (≤ 500), as DRF's PageNumberPagination reads them: an
 * unusable page_size falls back to the default, a page that is not a positive number is a 404.
 */
export function pageOf(req: Request): PageRequest {
  const rawPage = param(req, 'page');
  const rawSize = param(req, 'page_size');
  let page = 1;
  if (rawPage !== undefined) {
    if (!/^\d{1,9}$/.test(rawPage.trim()) || Number(rawPage) < 1) throw new ApiError(404, { detail: 'Invalid page.' });
    page = Number(rawPage);
  }
  let size = DEFAULT_PAGE_SIZE;
  if (rawSize !== undefined && /^\d{1,9}$/.test(rawSize.trim()) && Number(rawSize) >= 1) size = Math.min(Number(rawSize), MAX_PAGE_SIZE);
  return { page, size, offset: (page - 1) * size };
}

/** A page number past the end is 404, as in DRF (page 1 of nothing is an empty list). */
export function checkPageExists(page: PageRequest, count: number): void {
  if (page.page > 1 && page.offset >= count) throw new ApiError(404, { detail: 'Invalid page.' });
}

function linkTo(req: Request, page: number): string | null {
  try {
    const url = new URL(req.originalUrl, `${req.protocol}://${req.get('host') ?? 'localhost'}`);
    if (page === 1) url.searchParams.delete('page');
    else url.searchParams.set('page', String(page));
    return url.href;
  } catch {
    return null;
  }
}

/** DRF's list shape: `{count, next, previous, results}` with absolute links. */
export function pageBody<T>(req: Request, page: PageRequest, count: number, results: T[]) {
  const last = Math.max(1, Math.ceil(count / page.size));
  return {
    count,
    next: page.page < last ? linkTo(req, page.page + 1) : null,
    previous: page.page > 1 ? linkTo(req, page.page - 1) : null,
    results,
  };
}
