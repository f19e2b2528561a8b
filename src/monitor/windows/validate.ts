import type { FieldErrors, Validated } from '../types.js';
import { isTimeZone, parseCron, type MaintenanceWindow, type MaintenanceWindowInput } from './schedule.js';

// Messages are Django REST framework's where it has one.
const REQUIRED = 'This field is required.';
const DATETIME_FORMAT = 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].';
/** ISO 8601 with a zone: a time without one would depend on the server's clock settings. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
const MAX_DURATION_MINUTES = 43_200; // 30 days
const MAX_SERVERS = 1000;

const FIXED = ['starts_at', 'ends_at'] as const;
const RECURRING = ['cron', 'duration_minutes', 'timezone'] as const;

export interface ValidateWindowOptions {
  /** PATCH: the fields not given come from `existing`. */
  partial?: boolean;
  existing?: MaintenanceWindow;
}

/**
 * Checks a maintenance window's fields: `title`, `servers` (ids, at least one), and
 * either `starts_at` + `ends_at` (ISO 8601 with a zone, end after start) or `cron`
 * (5 fields, or `@daily`…) + `duration_minutes` + `timezone` (IANA, default UTC).
 * A PATCH that gives fields of the other kind switches the window's kind.
 */
export function validateWindow(
  body: unknown,
  { partial = false, existing }: ValidateWindowOptions = {},
): Validated<MaintenanceWindowInput> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, errors: { non_field_errors: ['Invalid data. Expected a dictionary.'] } };
  }
  const raw = body as Record<string, unknown>;
  const errors: FieldErrors = {};
  const fail = (field: string, message: string) => void (errors[field] ??= []).push(message);
  const given = (field: string) => raw[field] !== undefined;
  const base = partial && existing ? existing : undefined;

  let title = base?.title;
  if (given('title') || !base) {
    const v = raw.title;
    if (v === undefined) fail('title', REQUIRED);
    else if (typeof v !== 'string') fail('title', 'Not a valid string.');
    else if (v.trim() === '') fail('title', 'This field may not be blank.');
    else if (v.trim().length > 200) fail('title', 'Ensure this field has no more than 200 characters.');
    else title = v.trim();
  }

  let servers = base?.servers;
  if (given('servers') || !base) {
    const v = raw.servers;
    if (v === undefined) fail('servers', REQUIRED);
    else if (!Array.isArray(v)) fail('servers', `Expected a list of items but got type "${typeof v}".`);
    else if (v.length === 0) fail('servers', 'This list may not be empty.');
    else if (v.length > MAX_SERVERS) fail('servers', `Ensure this field has no more than ${MAX_SERVERS} elements.`);
    else {
      const bad = v.find((id) => typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 2_147_483_647);
      if (bad !== undefined)
        fail('servers', `Incorrect type. Expected pk value, received ${JSON.stringify(bad)?.slice(0, 50) ?? typeof bad}.`);
      else servers = [...new Set(v as number[])];
    }
  }

  const fixedGiven = FIXED.some(given);
  const recurringGiven = RECURRING.some(given);
  if (fixedGiven && recurringGiven) {
    fail('non_field_errors', 'Give either starts_at and ends_at, or cron, duration_minutes and timezone, not both.');
    return { ok: false, errors };
  }
  // The kind: what the body gives, else what the window is.
  const recurring = recurringGiven || (!fixedGiven && base !== undefined && base.cron !== null);
  const keep = base && (recurring ? base.cron !== null : base.starts_at !== null) ? base : undefined;

  const out: MaintenanceWindowInput = {
    title: title ?? '',
    servers: servers ?? [],
    starts_at: null,
    ends_at: null,
    cron: null,
    duration_minutes: null,
    timezone: null,
  };
  if (!fixedGiven && !recurringGiven && !keep) {
    fail('non_field_errors', 'Give either starts_at and ends_at, or cron, duration_minutes and timezone.');
  } else if (!recurring) {
    for (const field of FIXED) {
      const v = given(field) ? raw[field] : keep?.[field];
      if (v === undefined || v === null) fail(field, REQUIRED);
      else if (typeof v !== 'string' || !ISO_WITH_ZONE.test(v.trim()) || Number.isNaN(Date.parse(v.trim()))) fail(field, DATETIME_FORMAT);
      else out[field] = new Date(Date.parse(v.trim())).toISOString();
    }
    if (out.starts_at && out.ends_at && Date.parse(out.ends_at) <= Date.parse(out.starts_at)) fail('ends_at', 'Must be after starts_at.');
  } else {
    const zone = given('timezone') ? raw.timezone : (keep?.timezone ?? 'UTC');
    if (typeof zone !== 'string' || !isTimeZone(zone.trim()))
      fail('timezone', `"${String(zone).slice(0, 100)}" is not a valid IANA time zone.`);
    else out.timezone = zone.trim();
    const cron = given('cron') ? raw.cron : keep?.cron;
    if (cron === undefined || cron === null) fail('cron', REQUIRED);
    else if (typeof cron !== 'string' || cron.length > 200 || !parseCron(cron.trim())) {
      fail('cron', 'Enter a cron expression of 5 fields (minute hour day month weekday), e.g. "0 3 * * 0", or @daily, @weekly…');
    } else out.cron = cron.trim().replace(/\s+/g, ' ');
    const minutes = given('duration_minutes') ? raw.duration_minutes : keep?.duration_minutes;
    const n = typeof minutes === 'string' && /^\s*\d+\s*$/.test(minutes) ? Number(minutes) : minutes;
    if (n === undefined || n === null) fail('duration_minutes', REQUIRED);
    else if (typeof n !== 'number' || !Number.isInteger(n)) fail('duration_minutes', 'A valid integer is required.');
    else if (n < 1) fail('duration_minutes', 'Ensure this value is greater than or equal to 1.');
    else if (n > MAX_DURATION_MINUTES) fail('duration_minutes', `Ensure this value is less than or equal to ${MAX_DURATION_MINUTES}.`);
    else out.duration_minutes = n;
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, value: out };
}
