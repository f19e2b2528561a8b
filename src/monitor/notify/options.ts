import { ConfigError } from '../../errors.js';
import { linkLocalAllowed, literalRefusal } from '../checks/address.js';
import { checkBoolean, checkInteger, checkOptionsObject, checkString, optionError } from '../../options.js';

/** A Twilio-compatible SMS API: POST {url}/2010-04-01/Accounts/{accountSid}/Messages.json with basic auth. */
export interface SmsOptions {
  url: string;
  accountSid: string;
  authToken: string;
  /** The sending number (or a messaging service's sender id). */
  from: string;
}

export interface NotifyOptions {
  /**
   * Deliver notifications from this process. Default true; false for a process
   * that should leave sending to another instance (the outbox is written anyway).
   */
  send?: boolean;
  /**
   * Waits before each retry, ms; the last one repeats until `retryFor` has passed
   * since the event. Default 5 s, 30 s, 2 min, 10 min, 1 h (then hourly).
   */
  retrySchedule?: readonly number[];
  /** Give up on a message this long after its event, ms. Default 24 h. */
  retryFor?: number;
  /** Remind every so often while a server stays down, ms. Default 0: no reminders. */
  reminderInterval?: number;
  /** One attempt may take this long, ms (webhook and SMS request, SMTP socket). Default 15 s. */
  timeout?: number;
  /**
   * How long a claimed message is this sender's, ms: a sender that dies holds its
   * messages this long. Renewed every third of it while the attempt runs, so an
   * attempt may outlast it (an SMTP exchange of several slow steps). Default 60 s
   * or twice `timeout`.
   */
  lease?: number;
  /**
   * Attempts in flight at once, over all receivers. Default 64. Each waits on its own:
   * a receiver that never answers holds its attempts' slots until `timeout`, no others.
   */
  concurrency?: number;
  /**
   * Attempts in flight at once to one destination: a webhook's origin
   * (`https://host:port`), the SMTP server, the SMS API. Default 4, so a receiver
   * that hangs behind many configs holds at most this many of the `concurrency` slots.
   * A config's messages always go one at a time, in order.
   */
  destinationConcurrency?: number;
  /** How often the outbox is polled for due messages, ms. Default 1 s (new state changes of this process wake it at once). */
  pollInterval?: number;
  /** SMTP server for email, `smtp://user:pass@host:587` or `smtps://…`. Default `SMTP_URL`. */
  smtpUrl?: string;
  /** The From of emails. Default `MONITOR_MAIL_FROM`, else `express-lifeline monitor <monitor@localhost>`. */
  mailFrom?: string;
  /** Default from `SMS_API_URL`, `SMS_ACCOUNT_SID`, `SMS_AUTH_TOKEN`, `SMS_FROM`. */
  sms?: SmsOptions;
  /**
   * The dashboard's public address, linked from every message (e.g.
   * `https://ops.example.com/monitor/`). Default `MONITOR_PUBLIC_URL`; none: no link.
   */
  publicUrl?: string;
  /**
   * The configs (ids) told when the monitor cannot reach the network (see the monitor's
   * `canary`). Default: every enabled config that is told of failures, once per destination.
   */
  networkAlertConfigs?: readonly number[];
}

export interface NotifySettings {
  send: boolean;
  retrySchedule: number[];
  retryFor: number;
  reminderInterval: number;
  timeout: number;
  lease: number;
  concurrency: number;
  destinationConcurrency: number;
  pollInterval: number;
  smtpUrl: string | undefined;
  mailFrom: string;
  sms: SmsOptions | undefined;
  /** `MONITOR_ALLOW_LINK_LOCAL`: webhook and SMS API requests may go to link-local and cloud metadata addresses. */
  allowLinkLocal: boolean;
  publicUrl: string | undefined;
  networkAlertConfigs: number[] | undefined;
}

const KNOWN = [
  'send',
  'retrySchedule',
  'retryFor',
  'reminderInterval',
  'timeout',
  'lease',
  'concurrency',
  'destinationConcurrency',
  'pollInterval',
  'smtpUrl',
  'mailFrom',
  'sms',
  'publicUrl',
  'networkAlertConfigs',
];
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [5000, 30_000, 2 * MINUTE, 10 * MINUTE, HOUR];
const C = 'monitor: notifications';

type Env = Readonly<Record<string, string | undefined>>;

function isUrl(value: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Why an http(s) URL's host is refused (a link-local or metadata address), or undefined. */
function refusedHost(url: string, allowLinkLocal: boolean): string | undefined {
  return literalRefusal(new URL(url).hostname, allowLinkLocal);
}

/** A link people open: http(s), nothing that would leak (credentials) or break when a path is appended. */
function isPublicUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && !url.search && !url.hash;
  } catch {
    return false;
  }
}

function smsFromEnv(env: Env, allowLinkLocal: boolean): SmsOptions | undefined {
  const url = env.SMS_API_URL;
  if (!url) return undefined;
  if (!isUrl(url, ['http:', 'https:'])) throw new ConfigError('SMS_API_URL', `SMS_API_URL must be an http(s) URL, got "${url}"`);
  const refused = refusedHost(url, allowLinkLocal);
  if (refused) throw new ConfigError('SMS_API_URL', `SMS_API_URL ${refused}`);
  const sms: Partial<SmsOptions> = { url, accountSid: env.SMS_ACCOUNT_SID, authToken: env.SMS_AUTH_TOKEN, from: env.SMS_FROM };
  for (const [key, variable] of [
    ['accountSid', 'SMS_ACCOUNT_SID'],
    ['authToken', 'SMS_AUTH_TOKEN'],
    ['from', 'SMS_FROM'],
  ] as const) {
    if (!sms[key]) throw new ConfigError(variable, `${variable} must be set when SMS_API_URL is`);
  }
  return sms as SmsOptions;
}

/** Options of the notifications, with defaults from the environment; every bad value throws here, at setup. */
export function notifySettings(options: Readonly<NotifyOptions> = {}, env: Env = process.env): NotifySettings {
  checkOptionsObject(C, options, KNOWN);
  const allowLinkLocal = linkLocalAllowed(env);
  const send = options.send === undefined ? true : checkBoolean(C, 'send', options.send);
  let retrySchedule = [...DEFAULT_RETRY_SCHEDULE];
  if (options.retrySchedule !== undefined) {
    const s = options.retrySchedule as unknown;
    if (!Array.isArray(s) || s.length === 0 || s.some((ms) => typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1)) {
      throw optionError(C, 'retrySchedule', 'a non-empty array of positive integers (ms)', s);
    }
    retrySchedule = [...(s as number[])];
  }
  const retryFor = checkInteger(C, 'retryFor', options.retryFor ?? 24 * HOUR, { min: 1, unit: 'ms' });
  const reminderInterval = checkInteger(C, 'reminderInterval', options.reminderInterval ?? 0, { min: 0, unit: 'ms' });
  const timeout = checkInteger(C, 'timeout', options.timeout ?? 15_000, { min: 1, max: 10 * MINUTE, unit: 'ms' });
  // Renewed every third while an attempt runs: a lease shorter than `timeout` is safe, and a dead sender's messages come back sooner.
  const lease = checkInteger(C, 'lease', options.lease ?? Math.max(60_000, 2 * timeout), { min: 1000, max: HOUR, unit: 'ms' });
  const concurrency = checkInteger(C, 'concurrency', options.concurrency ?? 64, { min: 1, max: 10_000 });
  const destinationConcurrency = checkInteger(C, 'destinationConcurrency', options.destinationConcurrency ?? Math.min(4, concurrency), {
    min: 1,
    max: concurrency,
  });
  const pollInterval = checkInteger(C, 'pollInterval', options.pollInterval ?? 1000, { min: 1, max: HOUR, unit: 'ms' });

  let smtpUrl: string | undefined;
  if (options.smtpUrl !== undefined) {
    smtpUrl = checkString(C, 'smtpUrl', options.smtpUrl);
    if (!isUrl(smtpUrl, ['smtp:', 'smtps:']))
      throw optionError(C, 'smtpUrl', 'an smtp:// or smtps:// URL', '(hidden: may hold a password)');
  } else if (env.SMTP_URL) {
    smtpUrl = env.SMTP_URL;
    if (!isUrl(smtpUrl, ['smtp:', 'smtps:'])) throw new ConfigError('SMTP_URL', 'SMTP_URL must be an smtp:// or smtps:// URL');
  }
  const mailFrom =
    options.mailFrom !== undefined
      ? checkString(C, 'mailFrom', options.mailFrom)
      : env.MONITOR_MAIL_FROM || 'express-lifeline monitor <monitor@localhost>';

  let sms: SmsOptions | undefined;
  if (options.sms !== undefined) {
    const given = options.sms as unknown;
    if (given === null || typeof given !== 'object') throw optionError(C, 'sms', 'an object { url, accountSid, authToken, from }', given);
    checkOptionsObject(`${C}.sms`, given, ['url', 'accountSid', 'authToken', 'from']);
    const o = given as Partial<SmsOptions>;
    if (typeof o.url !== 'string' || !isUrl(o.url, ['http:', 'https:'])) throw optionError(C, 'sms.url', 'an http(s) URL', o.url);
    if (refusedHost(o.url, allowLinkLocal)) {
      throw optionError(C, 'sms.url', 'an http(s) URL not on a link-local or metadata address (or MONITOR_ALLOW_LINK_LOCAL=1)', o.url);
    }
    for (const key of ['accountSid', 'authToken', 'from'] as const) {
      if (typeof o[key] !== 'string' || o[key] === '') {
        throw optionError(C, `sms.${key}`, 'a non-empty string', key === 'authToken' ? '(hidden)' : o[key]);
      }
    }
    sms = { url: o.url, accountSid: o.accountSid!, authToken: o.authToken!, from: o.from! };
  } else {
    sms = smsFromEnv(env, allowLinkLocal);
  }
  let publicUrl: string | undefined;
  if (options.publicUrl !== undefined) {
    publicUrl = checkString(C, 'publicUrl', options.publicUrl);
    if (!isPublicUrl(publicUrl)) throw optionError(C, 'publicUrl', 'an http(s) URL without credentials, query or fragment', publicUrl);
  } else if (env.MONITOR_PUBLIC_URL) {
    publicUrl = env.MONITOR_PUBLIC_URL;
    if (!isPublicUrl(publicUrl))
      throw new ConfigError(
        'MONITOR_PUBLIC_URL',
        `MONITOR_PUBLIC_URL must be an http(s) URL without credentials, query or fragment, got "${publicUrl}"`,
      );
  }
  let networkAlertConfigs: number[] | undefined;
  if (options.networkAlertConfigs !== undefined) {
    const ids = options.networkAlertConfigs as unknown;
    if (!Array.isArray(ids) || ids.some((id) => !Number.isSafeInteger(id) || (id as number) < 1))
      throw optionError(C, 'networkAlertConfigs', 'an array of notification config ids', ids);
    networkAlertConfigs = [...(ids as number[])];
  }
  return {
    publicUrl,
    networkAlertConfigs,
    send,
    retrySchedule,
    retryFor,
    reminderInterval,
    timeout,
    lease,
    concurrency,
    destinationConcurrency,
    pollInterval,
    smtpUrl,
    mailFrom,
    sms,
    allowLinkLocal,
  };
}
