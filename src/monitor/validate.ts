import { isIPv4, isIPv6 } from 'node:net';
import { inspect } from 'node:util';
import { dnsServerHost, linkLocalAllowed, literalRefusal } from './checks/address.js';
import { parseJsonPath } from './checks/json-path.js';
import { isTimezone, scheduleError } from './push/schedule.js';
import {
  DNS_RECORD_TYPES,
  KEYWORD_MODES,
  NOTIFICATION_TYPES,
  PROTOCOLS,
  type FieldErrors,
  type NotificationConfig,
  type NotificationConfigInput,
  type NotificationType,
  type Server,
  type ServerInput,
  type Validated,
} from './types.js';

// Messages are Django REST framework's, so a PulseGuard client shows the same errors.
const REQUIRED = 'This field is required.';
const NULL = 'This field may not be null.';
const BLANK = 'This field may not be blank.';

type Raw = Record<string, unknown>;

/** One parsed `expected_status` part: an inclusive range of codes. */
export type StatusRange = readonly [number, number];

/** Parses `200-399`, `200`, `200,204,301-302`; null when malformed or outside 100–599. */
export function parseStatusRanges(text: string): StatusRange[] | null {
  const ranges: StatusRange[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$/.exec(part);
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 100 || hi > 599 || lo > hi) return null;
    ranges.push([lo, hi]);
  }
  return ranges;
}

function typeName(value: unknown): string {
  if (typeof value === 'string') return 'str';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'boolean') return 'bool';
  if (value === null) return 'NoneType';
  return Array.isArray(value) ? 'list' : 'dict';
}

class Fields {
  readonly errors: FieldErrors = {};
  constructor(
    private readonly data: Raw,
    private readonly partial: boolean,
  ) {}

  fail(field: string, message: string): undefined {
    (this.errors[field] ??= []).push(message);
    return undefined;
  }

  /** The raw value, or undefined (with a "required" error when needed) when absent. */
  private take(field: string, required: boolean): unknown {
    const value = this.data[field];
    if (value === undefined && required && !this.partial) this.fail(field, REQUIRED);
    return value;
  }

  has(field: string): boolean {
    return this.data[field] !== undefined;
  }

  string(field: string, { required = false, max = 255, nullable = false, min = 1 } = {}): string | null | undefined {
    const value = this.take(field, required);
    if (value === undefined) return undefined;
    if (value === null) return nullable ? null : this.fail(field, NULL);
    if (typeof value !== 'string') return this.fail(field, 'Not a valid string.');
    const text = value.trim();
    if (text === '') return nullable && !required ? null : min > 0 ? this.fail(field, BLANK) : text;
    if (text.length > max) return this.fail(field, `Ensure this field has no more than ${max} characters.`);
    return text;
  }

  integer(field: string, { required = false, min = 1, max = Number.MAX_SAFE_INTEGER, nullable = false } = {}): number | null | undefined {
    const value = this.take(field, required);
    if (value === undefined) return undefined;
    if (value === null || value === '') return nullable ? null : this.fail(field, NULL);
    const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) return this.fail(field, 'A valid integer is required.');
    if (n < min) return this.fail(field, `Ensure this value is greater than or equal to ${min}.`);
    if (n > max) return this.fail(field, `Ensure this value is less than or equal to ${max}.`);
    return n;
  }

  number(field: string, { min = 0, max = Number.MAX_VALUE } = {}): number | undefined {
    const value = this.take(field, false);
    if (value === undefined || value === null) return undefined;
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) return this.fail(field, 'A valid number is required.');
    if (n <= min) return this.fail(field, `Ensure this value is greater than ${min}.`);
    if (n > max) return this.fail(field, `Ensure this value is less than or equal to ${max}.`);
    return n;
  }

  boolean(field: string): boolean | undefined {
    const value = this.take(field, false);
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 1 || value === '1') return true;
    if (value === 'false' || value === 0 || value === '0') return false;
    return this.fail(field, 'Must be a valid boolean.');
  }

  choice<T extends string>(field: string, allowed: readonly T[], { required = false } = {}): T | undefined {
    const value = this.take(field, required);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    return this.fail(field, `${inspect(String(value)).replace(/^'|'$/g, '"')} is not a valid choice.`);
  }
}

function notDict(input: unknown): FieldErrors {
  return { non_field_errors: [`Invalid data. Expected a dictionary, but got ${typeName(input)}.`] };
}

const HOSTNAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/;

/** A DNS name, an IPv4 address, or an IPv6 address (bracketed or not). */
function isHost(host: string): boolean {
  if (host.includes(':')) return isIPv6(host.replace(/^\[(.*)\]$/, '$1'));
  return HOSTNAME.test(host);
}

export interface ValidateServerOptions {
  /** PATCH: only the given fields change; the others come from `existing`. */
  partial?: boolean;
  /** The stored server being replaced (PUT) or patched (PATCH). */
  existing?: Server;
  /** Accept link-local and cloud metadata hosts. Default `MONITOR_ALLOW_LINK_LOCAL` (unset: refused). */
  allowLinkLocal?: boolean;
}

/** A link-local or metadata address, refused as a target (where checks could read the cloud host's credentials). */
const LINK_LOCAL = 'Link-local and cloud metadata addresses are not allowed (set MONITOR_ALLOW_LINK_LOCAL=1 to allow).';

/**
 * Checks a server's fields as the REST API receives them. Returns the complete
 * writable record with defaults filled in, or DRF-style `{field: [message]}` errors.
 *
 * @example
 * const checked = validateServer(req.body);
 * if (!checked.ok) return res.status(400).json(checked.errors);
 */
export function validateServer(input: unknown, options: ValidateServerOptions = {}): Validated<ServerInput> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { ok: false, errors: notDict(input) };
  const partial = options.partial === true && options.existing !== undefined;
  const base = partial ? options.existing : undefined;
  const f = new Fields(input as Raw, partial);

  const name = f.string('name', { required: true, max: 200 });
  const protocol = f.choice('protocol', PROTOCOLS, { required: true }) ?? base?.protocol;
  // A push server is not reached: it has no host or port (given ones are ignored).
  const push = protocol === 'push';
  const rawHost = push ? undefined : f.string('host', { required: true, max: 255 });
  if (typeof rawHost === 'string' && !isHost(rawHost)) f.fail('host', 'Enter a valid host name or IP address (no scheme, path or port).');
  else if (typeof rawHost === 'string' && literalRefusal(rawHost, options.allowLinkLocal ?? linkLocalAllowed())) f.fail('host', LINK_LOCAL);
  const port = push ? undefined : f.integer('port', { max: 65535 });
  const path = f.string('path', { max: 2000, nullable: true });
  if (typeof path === 'string' && !path.startsWith('/')) f.fail('path', 'Ensure the path starts with "/".');
  const interval = f.integer('check_interval', { max: 86400 }) ?? base?.check_interval ?? 60;
  const timeout = f.number('timeout', { max: 86400 });
  const expected = f.string('expected_status', { max: 100 });
  if (typeof expected === 'string' && parseStatusRanges(expected) === null) {
    f.fail('expected_status', 'Enter status codes 100-599 or ranges, e.g. "200-399" or "200,301-302".');
  }
  const keyword = f.string('keyword', { max: 1000, nullable: true });
  const tags = readTags(f, (input as Raw).tags);
  const dependsOn = readDependsOn(f, (input as Raw).depends_on, options.existing?.id);
  const enabled = f.boolean('enabled');
  const failureThreshold = f.integer('failure_threshold', { max: 100 });
  const successThreshold = f.integer('success_threshold', { max: 100 });
  const degraded = f.integer('degraded_threshold_ms', { max: 600_000, nullable: true });
  const assertions = readAssertions(f, protocol ?? 'http', base, options.allowLinkLocal ?? linkLocalAllowed());
  const pushFields = readPush(f, base);

  const proto = protocol ?? 'http';
  if (!push && rawHost === undefined && (base === undefined || base.protocol === 'push') && f.errors.host === undefined) {
    f.fail('host', REQUIRED);
  }
  const defaultPort = (p: string): number | undefined => (p === 'https' ? 443 : p === 'http' ? 80 : p === 'dns' ? 53 : undefined);
  let finalPort = port ?? undefined;
  if (push) finalPort = 0;
  else if (finalPort === undefined && f.errors.port === undefined) {
    // A default port follows the protocol; a port chosen by hand stays.
    const kept = base !== undefined && base.port !== defaultPort(base.protocol) ? base.port : undefined;
    finalPort = kept ?? defaultPort(proto) ?? (proto === 'tcp' && base?.protocol === 'tcp' ? base.port : undefined);
    if (finalPort === undefined) f.fail('port', 'This field is required for tcp servers.');
  }

  // An explicit timeout must fit in the interval; an implicit one follows it.
  let finalTimeout = timeout ?? base?.timeout;
  const defaultTimeout = Math.min(10, Math.round(0.8 * interval * 1000) / 1000);
  if (timeout !== undefined) {
    if (timeout > interval) f.fail('timeout', `Ensure this value is less than or equal to check_interval (${interval}).`);
  } else if (finalTimeout === undefined || finalTimeout > interval) {
    finalTimeout = defaultTimeout;
  }

  if (Object.keys(f.errors).length > 0) return { ok: false, errors: f.errors };
  return {
    ok: true,
    value: {
      name: name ?? base!.name,
      protocol: proto,
      host: push ? '' : typeof rawHost === 'string' ? rawHost.replace(/^\[|\]$/g, '') : base!.host,
      port: finalPort!,
      path: proto === 'http' || proto === 'https' ? (path ?? base?.path ?? '/') : '/',
      check_interval: interval,
      timeout: finalTimeout!,
      expected_status: expected ?? base?.expected_status ?? '200-399',
      keyword: keyword === undefined ? (base?.keyword ?? null) : keyword,
      tags: tags ?? base?.tags ?? [],
      enabled: enabled ?? base?.enabled ?? true,
      // A missed heartbeat is an outage at once: the grace already waited for it.
      failure_threshold: failureThreshold ?? base?.failure_threshold ?? (push ? 1 : 2),
      success_threshold: successThreshold ?? base?.success_threshold ?? 1,
      degraded_threshold_ms: degraded === undefined ? (base?.degraded_threshold_ms ?? null) : degraded,
      depends_on: dependsOn ?? base?.depends_on ?? [],
      ...assertions!,
      ...pushFields!,
    },
  };
}

/** `depends_on`: a list of server ids (their existence and cycles are the API's to check, against the stored servers). */
function readDependsOn(f: Fields, value: unknown, self: number | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  if (value === null) return f.fail('depends_on', NULL);
  if (!Array.isArray(value)) return f.fail('depends_on', `Expected a list of items but got type "${typeName(value)}".`);
  if (value.length > 50) return f.fail('depends_on', 'Ensure this field has no more than 50 elements.');
  const ids: number[] = [];
  for (const item of value) {
    const id = typeof item === 'string' && /^\d+$/.test(item) ? Number(item) : item;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1 || id > 2_147_483_647) {
      return f.fail('depends_on', `Incorrect type. Expected pk value, received ${typeName(item)}.`);
    }
    if (id === self) return f.fail('depends_on', 'A server cannot depend on itself.');
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

type AssertionFields = Pick<
  ServerInput,
  'keyword_mode' | 'json_path' | 'json_expected' | 'dns_record_type' | 'dns_expected' | 'dns_server'
>;

/** `ip` or `ip:port`, `[v6]:port`: where a dns check asks. */
function dnsServerError(text: string): string | undefined {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text) ?? [text, text, undefined];
  const [, host, port] = m;
  if (!host || !(isIPv4(host) || isIPv6(host))) return 'Enter an IP address with an optional port, e.g. "1.1.1.1" or "127.0.0.1:5353".';
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return 'Ensure the port is 1-65535.';
  return undefined;
}

function readAssertions(f: Fields, protocol: string, base: Server | undefined, allowLinkLocal: boolean): AssertionFields | undefined {
  const mode = f.choice('keyword_mode', KEYWORD_MODES);
  const jsonPath = f.string('json_path', { max: 500, nullable: true });
  if (typeof jsonPath === 'string' && parseJsonPath(jsonPath) === null) {
    f.fail('json_path', 'Enter a path like "$.status" or "$.checks[0][\'name\']" (dots, [index] and [\'key\'] only).');
  }
  const jsonExpected = f.string('json_expected', { max: 1000, nullable: true });
  const finalPath = jsonPath === undefined ? (base?.json_path ?? null) : jsonPath;
  const finalExpected = jsonExpected === undefined ? (base?.json_expected ?? null) : jsonExpected;
  if (finalExpected !== null && finalPath === null) f.fail('json_path', 'This field is required with json_expected.');
  const dns = protocol === 'dns';
  const recordType = f.choice('dns_record_type', DNS_RECORD_TYPES);
  const dnsExpected = f.string('dns_expected', { max: 500, nullable: true });
  const dnsServer = f.string('dns_server', { max: 100, nullable: true });
  if (typeof dnsServer === 'string') {
    const message = dnsServerError(dnsServer) ?? (literalRefusal(dnsServerHost(dnsServer), allowLinkLocal) ? LINK_LOCAL : undefined);
    if (message) f.fail('dns_server', message);
  }
  return {
    keyword_mode: mode ?? base?.keyword_mode ?? 'present',
    json_path: finalPath,
    json_expected: finalExpected,
    dns_record_type: dns ? (recordType ?? base?.dns_record_type ?? 'A') : null,
    dns_expected: dns ? (dnsExpected === undefined ? (base?.dns_expected ?? null) : dnsExpected) : null,
    dns_server: dns ? (dnsServer === undefined ? (base?.dns_server ?? null) : dnsServer) : null,
  };
}

function readPush(f: Fields, base: Server | undefined): Pick<ServerInput, 'grace' | 'schedule' | 'timezone'> | undefined {
  const grace = f.integer('grace', { min: 0, max: 86400 });
  const schedule = f.string('schedule', { max: 200, nullable: true });
  const timezone = f.string('timezone', { max: 64, nullable: true });
  if (typeof timezone === 'string' && !isTimezone(timezone))
    f.fail('timezone', `Enter an IANA time zone, e.g. "Europe/Berlin" (got "${timezone}").`);
  const finalSchedule = schedule === undefined ? (base?.schedule ?? null) : schedule;
  const finalTimezone = timezone === undefined ? (base?.timezone ?? null) : timezone;
  if (finalSchedule !== null && f.errors.timezone === undefined) {
    const message = scheduleError(finalSchedule, finalTimezone);
    if (message) f.fail('schedule', message);
  }
  return { grace: grace ?? base?.grace ?? 60, schedule: finalSchedule, timezone: finalTimezone };
}

function readTags(f: Fields, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (value === null) return f.fail('tags', NULL);
  if (!Array.isArray(value)) return f.fail('tags', `Expected a list of items but got type "${typeName(value)}".`);
  if (value.length > 50) return f.fail('tags', 'Ensure this field has no more than 50 elements.');
  const tags: string[] = [];
  for (const tag of value) {
    if (typeof tag !== 'string' || tag.trim() === '' || tag.trim().length > 50) {
      return f.fail('tags', 'Each tag must be a non-empty string of at most 50 characters.');
    }
    if (!tags.includes(tag.trim())) tags.push(tag.trim());
  }
  return tags;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+[1-9]\d{6,14}$/;
// Telegram: a numeric chat id (groups are negative) or a public @channelusername.
const TELEGRAM_CHAT = /^(?:-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$/;
// A bot token as BotFather gives it: `<bot id>:<35 characters>`.
const TELEGRAM_TOKEN = /^\d{1,20}:[A-Za-z0-9_-]{30,100}$/;
// ntfy's topic names.
const NTFY_TOPIC = /^[-_A-Za-z0-9]{1,64}$/;
// A PagerDuty Events v2 integration (routing) key: 32 characters.
const PAGERDUTY_KEY = /^[A-Za-z0-9]{32}$/;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The types whose recipient is the URL requests go to. */
const URL_RECIPIENT: readonly NotificationType[] = ['webhook', 'slack', 'discord', 'teams', 'gotify'];
/** The types with a public API whose base URL may be replaced. */
export const BASE_URL_TYPES: readonly NotificationType[] = ['telegram', 'ntfy', 'pagerduty'];

/** An http(s) URL requests may go to: none to link-local or metadata addresses unless allowed. */
function urlError(value: string, allowLinkLocal: boolean): string | undefined {
  if (!isHttpUrl(value)) return 'Enter a valid http(s) URL.';
  return literalRefusal(new URL(value).hostname, allowLinkLocal) ? LINK_LOCAL : undefined;
}

function recipientError(type: NotificationType, recipient: string, allowLinkLocal: boolean): string | undefined {
  if (type === 'email') return EMAIL.test(recipient) ? undefined : 'Enter a valid email address.';
  if (type === 'sms') return PHONE.test(recipient) ? undefined : 'Enter a phone number in international format, e.g. +14155550123.';
  if (type === 'telegram')
    return TELEGRAM_CHAT.test(recipient) ? undefined : 'Enter a Telegram chat id (e.g. -1001234567890) or @channelusername.';
  if (type === 'ntfy') return NTFY_TOPIC.test(recipient) ? undefined : 'Enter an ntfy topic: 1-64 letters, digits, - or _.';
  if (type === 'pagerduty') return undefined;
  return urlError(recipient, allowLinkLocal);
}

/** Whether the type needs a secret, and what a valid one looks like. */
function secretError(type: NotificationType, secret: string | null | undefined): string | undefined {
  if (type === 'telegram') {
    if (!secret) return 'This field is required for telegram configs (the bot token).';
    return TELEGRAM_TOKEN.test(secret)
      ? undefined
      : 'Enter a bot token as BotFather gives it, e.g. 123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11.';
  }
  if (type === 'pagerduty') {
    if (!secret) return 'This field is required for pagerduty configs (the integration key).';
    return PAGERDUTY_KEY.test(secret) ? undefined : 'Enter the 32-character integration key of an Events API v2 integration.';
  }
  if (type === 'gotify' && !secret) return 'This field is required for gotify configs (the application token).';
  if (secret && (type === 'email' || type === 'sms' || type === 'slack' || type === 'discord' || type === 'teams'))
    return `Not used by ${type} configs.`;
  return undefined;
}

export interface ValidateNotificationOptions {
  partial?: boolean;
  existing?: NotificationConfig;
  /** Accept webhook URLs on link-local and cloud metadata addresses. Default `MONITOR_ALLOW_LINK_LOCAL` (unset: refused). */
  allowLinkLocal?: boolean;
}

/** Checks a notification config; the recipient is validated for its type (address, URL or phone number). */
export function validateNotificationConfig(input: unknown, options: ValidateNotificationOptions = {}): Validated<NotificationConfigInput> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { ok: false, errors: notDict(input) };
  const partial = options.partial === true && options.existing !== undefined;
  const base = partial ? options.existing : undefined;
  const f = new Fields(input as Raw, partial);
  const server = f.integer('server', { required: true });
  const type = f.choice('notification_type', NOTIFICATION_TYPES, { required: true }) ?? base?.notification_type;
  // PagerDuty's destination is its routing key (the secret): nothing to name.
  const recipientRequired = type !== 'pagerduty';
  const recipient = f.string('recipient', { required: recipientRequired, max: 500, nullable: !recipientRequired }) ?? base?.recipient;
  if (typeof recipient === 'string' && type !== undefined && f.errors.recipient === undefined) {
    const message = recipientError(type, recipient, options.allowLinkLocal ?? linkLocalAllowed());
    if (message) f.fail('recipient', message);
  }
  const enabled = f.boolean('enabled');
  const onFailure = f.boolean('notify_on_failure');
  const onRecovery = f.boolean('notify_on_recovery');
  const secret = f.string('secret', { max: 200, nullable: true });
  // A config that keeps its type keeps its stored secret when none is given (write-only: never read back).
  const keepsSecret = secret === undefined && options.existing?.has_secret === true && options.existing.notification_type === type;
  if (type !== undefined && f.errors.secret === undefined && !keepsSecret) {
    const message = secretError(type, secret);
    if (message) f.fail('secret', message);
  }
  const baseUrl = f.string('base_url', { max: 500, nullable: true });
  let finalBase = baseUrl === undefined ? (base?.base_url ?? null) : baseUrl;
  if (type !== undefined && typeof baseUrl === 'string') {
    if (!BASE_URL_TYPES.includes(type))
      f.fail('base_url', `Not used by ${type} configs${URL_RECIPIENT.includes(type) ? ': the recipient is the URL' : ''}.`);
    else {
      const problem = urlError(baseUrl, options.allowLinkLocal ?? linkLocalAllowed());
      if (problem) f.fail('base_url', problem);
    }
  }
  if (type !== undefined && !BASE_URL_TYPES.includes(type)) finalBase = null;
  if (Object.keys(f.errors).length > 0) return { ok: false, errors: f.errors };
  const value: NotificationConfigInput = {
    server: server ?? base!.server,
    notification_type: type!,
    recipient: recipient ?? '',
    base_url: finalBase === null ? null : finalBase.replace(/\/+$/, ''),
    enabled: enabled ?? base?.enabled ?? true,
    notify_on_failure: onFailure ?? base?.notify_on_failure ?? true,
    notify_on_recovery: onRecovery ?? base?.notify_on_recovery ?? true,
  };
  if (secret !== undefined) value.secret = secret;
  return { ok: true, value };
}
