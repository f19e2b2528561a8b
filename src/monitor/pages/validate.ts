import {
  INCIDENT_IMPACTS,
  INCIDENT_STATES,
  type Incident,
  type IncidentImpact,
  type IncidentInput,
  type IncidentState,
} from '../store/incidents.js';
import type { StatusPage, StatusPageInput } from '../store/status-pages.js';
import type { FieldErrors, Validated } from '../types.js';

const REQUIRED = 'This field is required.';
const BLANK = 'This field may not be blank.';
const NULL = 'This field may not be null.';
const SLUG = /^[a-z0-9][a-z0-9_-]*$/;
export const MAX_PAGE_SERVERS = 1000;

type Raw = Record<string, unknown>;

function isDict(input: unknown): input is Raw {
  return input !== null && typeof input === 'object' && !Array.isArray(input);
}

function notDict(input: unknown): FieldErrors {
  const kind = input === null ? 'NoneType' : Array.isArray(input) ? 'list' : typeof input === 'string' ? 'str' : typeof input;
  return { non_field_errors: [`Invalid data. Expected a dictionary, but got ${kind}.`] };
}

class Checker {
  readonly errors: FieldErrors = {};
  constructor(private readonly partial: boolean) {}

  fail(field: string, message: string): undefined {
    (this.errors[field] ??= []).push(message);
    return undefined;
  }

  text(data: Raw, field: string, { required = false, max = 200, blank = false } = {}): string | undefined {
    const value = data[field];
    if (value === undefined) return required && !this.partial ? this.fail(field, REQUIRED) : undefined;
    if (value === null) return this.fail(field, NULL);
    if (typeof value !== 'string') return this.fail(field, 'Not a valid string.');
    const text = value.trim();
    if (text === '' && !blank) return this.fail(field, BLANK);
    if (text.length > max) return this.fail(field, `Ensure this field has no more than ${max} characters.`);
    return text;
  }

  choice<T extends string>(data: Raw, field: string, allowed: readonly T[]): T | undefined {
    const value = data[field];
    if (value === undefined) return undefined;
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    return this.fail(field, `"${String(value).slice(0, 50)}" is not a valid choice.`);
  }

  /** A list of positive integer ids, each once (a form's "1, 2" is accepted too). */
  ids(data: Raw, field: string, max: number): number[] | undefined {
    let value = data[field];
    if (value === undefined) return undefined;
    if (typeof value === 'string')
      value = value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    if (!Array.isArray(value))
      return this.fail(field, `Expected a list of items but got type "${value === null ? 'NoneType' : typeof value}".`);
    if (value.length > max) return this.fail(field, `Ensure this field has no more than ${max} elements.`);
    const out: number[] = [];
    for (const item of value) {
      const n = typeof item === 'string' && /^\d{1,15}$/.test(item.trim()) ? Number(item) : item;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
        return this.fail(field, `Incorrect type. Expected pk value, received ${typeof item}.`);
      if (out.includes(n)) return this.fail(field, `Server ${n} is listed twice.`);
      out.push(n);
    }
    return out;
  }

  /** An ISO 8601 time with a zone, as epoch ms; null when allowed. */
  time(data: Raw, field: string, { nullable = false } = {}): number | null | undefined {
    const value = data[field];
    if (value === undefined) return undefined;
    if (value === null || value === '') return nullable ? null : this.fail(field, NULL);
    const ms =
      typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(value.trim())
        ? Date.parse(value)
        : NaN;
    if (!Number.isFinite(ms))
      return this.fail(field, 'Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]]Z or ±hh:mm.');
    return ms;
  }
}

/** Checks a status page; `existing` for PUT (replaced) and PATCH (`partial`). Server ids are checked against the store by the caller. */
export function validateStatusPage(
  input: unknown,
  { partial = false, existing }: { partial?: boolean; existing?: StatusPage } = {},
): Validated<StatusPageInput> {
  if (!isDict(input)) return { ok: false, errors: notDict(input) };
  const c = new Checker(partial);
  const slug = c.text(input, 'slug', { required: true, max: 100 });
  if (slug !== undefined && !SLUG.test(slug))
    c.fail(
      'slug',
      'Enter a valid "slug" consisting of lowercase letters, numbers, underscores or hyphens, starting with a letter or number.',
    );
  const title = c.text(input, 'title', { required: true, max: 200 });
  const description = c.text(input, 'description', { max: 5000, blank: true });
  const servers = c.ids(input, 'servers', MAX_PAGE_SERVERS);
  let displayNames: Record<string, string> | undefined;
  const rawNames = input.display_names;
  if (rawNames !== undefined && rawNames !== null) {
    if (!isDict(rawNames)) c.fail('display_names', 'Expected a dictionary of server ids to names.');
    else {
      displayNames = {};
      for (const [key, value] of Object.entries(rawNames)) {
        if (!/^\d{1,15}$/.test(key)) {
          c.fail('display_names', `"${key.slice(0, 20)}" is not a server id.`);
          continue;
        }
        if (value === null || value === '') continue;
        if (typeof value !== 'string' || value.trim().length > 200) {
          c.fail('display_names', `The name of server ${key} must be a string of at most 200 characters.`);
          continue;
        }
        if (value.trim() !== '') displayNames[String(Number(key))] = value.trim();
      }
    }
  } else if (rawNames === null) displayNames = {};
  if (Object.keys(c.errors).length > 0) return { ok: false, errors: c.errors };
  const base = partial && existing ? existing : undefined;
  const value: StatusPageInput = {
    slug: slug ?? base?.slug ?? '',
    title: title ?? base?.title ?? '',
    description: description ?? base?.description ?? '',
    servers: servers ?? base?.servers ?? [],
    display_names: displayNames ?? base?.display_names ?? {},
  };
  // Names of servers no longer on the page are dropped with them; a name for a server not on it is a mistake.
  const stray = Object.keys(displayNames ?? {}).filter((id) => !value.servers.includes(Number(id)));
  if (stray.length > 0) return { ok: false, errors: { display_names: stray.map((id) => `Server ${id} is not on this page.`) } };
  value.display_names = Object.fromEntries(Object.entries(value.display_names).filter(([id]) => value.servers.includes(Number(id))));
  return { ok: true, value };
}

export interface IncidentBody extends IncidentInput {
  /** POST: the first update's words. */
  message: string | null;
}

/** Checks an incident for POST (full) or PATCH (`existing`): state and resolved_at kept consistent. */
export function validateIncident(input: unknown, existing?: Incident, now: number = Date.now()): Validated<IncidentBody> {
  if (!isDict(input)) return { ok: false, errors: notDict(input) };
  const c = new Checker(existing !== undefined);
  const title = c.text(input, 'title', { required: true, max: 200 });
  const state = c.choice<IncidentState>(input, 'state', INCIDENT_STATES);
  const impact = c.choice<IncidentImpact>(input, 'impact', INCIDENT_IMPACTS);
  const servers = c.ids(input, 'servers', MAX_PAGE_SERVERS);
  const startedAt = c.time(input, 'started_at');
  const resolvedAt = c.time(input, 'resolved_at', { nullable: true });
  const message = existing ? undefined : c.text(input, 'message', { max: 10_000, blank: true });
  if (Object.keys(c.errors).length > 0) return { ok: false, errors: c.errors };

  const nextState = state ?? existing?.state ?? 'investigating';
  const started = startedAt ?? (existing ? Date.parse(existing.started_at) : now);
  let resolved = resolvedAt !== undefined ? resolvedAt : existing?.resolved_at ? Date.parse(existing.resolved_at) : null;
  if (nextState === 'resolved') resolved ??= now;
  else if (resolvedAt !== undefined && resolvedAt !== null)
    return { ok: false, errors: { resolved_at: ['Only a resolved incident has a resolved_at.'] } };
  else resolved = null;
  if (resolved !== null && resolved < started) return { ok: false, errors: { resolved_at: ['Must not be before started_at.'] } };
  return {
    ok: true,
    value: {
      title: title ?? existing?.title ?? '',
      state: nextState,
      impact: impact ?? existing?.impact ?? 'minor',
      servers: servers ?? existing?.servers ?? [],
      started_at: started,
      resolved_at: resolved,
      message: message || null,
    },
  };
}

/** Checks `POST /api/incidents/:id/updates/`: `message` required, `state` defaults to the incident's. */
export function validateIncidentUpdate(input: unknown, incident: Incident): Validated<{ state: IncidentState; message: string }> {
  if (!isDict(input)) return { ok: false, errors: notDict(input) };
  const c = new Checker(false);
  const message = c.text(input, 'message', { required: true, max: 10_000 });
  const state = c.choice<IncidentState>(input, 'state', INCIDENT_STATES);
  if (Object.keys(c.errors).length > 0 || message === undefined) return { ok: false, errors: c.errors };
  return { ok: true, value: { state: state ?? incident.state, message } };
}
