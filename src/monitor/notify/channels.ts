import type { LookupFunction } from 'node:net';
import { describeError } from '../checks/errors.js';
import type { AnyPayload } from './message.js';
import { summaryOfAny, textOfAny } from './message.js';
import type { NotificationConfig } from '../types.js';
import type { SmsOptions } from './options.js';
import { post, PostStopped } from './post.js';
import { serviceRequest, type ServiceType } from './services.js';
import { signWebhook } from './signature.js';

/** What one attempt gave. */
export interface AttemptOutcome {
  ok: boolean;
  status_code: number | null;
  error: string | null;
  /** The receiver answered 410 Gone: stop sending to this config. */
  gone?: boolean;
}

/** How one webhook or SMS attempt is made. */
export interface AttemptOptions {
  /** One attempt may take this long, ms. */
  timeout: number;
  /** Aborted when the monitor stops. */
  signal: AbortSignal;
  /** Allow link-local and cloud metadata addresses (`MONITOR_ALLOW_LINK_LOCAL`). Default false. */
  allowLinkLocal?: boolean;
  /** Resolves host names (default `dns.lookup`); link-local answers are refused whatever resolves them. */
  lookup?: LookupFunction;
}

/** Why a failed request failed, in one line. */
function requestError(error: unknown, timeout: number): string {
  if (error instanceof PostStopped)
    return error.reason === 'timeout' ? `no answer within ${timeout / 1000} s` : 'cancelled: the monitor is stopping';
  return describeError(error);
}

function httpOutcome(status: number): AttemptOutcome {
  if (status >= 200 && status < 300) return { ok: true, status_code: status, error: null };
  return { ok: false, status_code: status, error: `HTTP ${status}`, ...(status === 410 ? { gone: true } : {}) };
}

/**
 * POSTs the payload per Standard Webhooks: `webhook-id` (the message's, the same on
 * every attempt), `webhook-timestamp` (this attempt's, seconds) and, with a secret,
 * `webhook-signature`. Redirects are not followed; 2xx is delivered, 410 unsubscribes.
 */
export async function sendWebhook(
  url: string,
  secret: string | null,
  messageId: string,
  payload: AnyPayload,
  options: AttemptOptions,
): Promise<AttemptOutcome> {
  const body = JSON.stringify(payload);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'express-lifeline-monitor',
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp),
  };
  if (secret) headers['webhook-signature'] = signWebhook(secret, messageId, timestamp, body);
  try {
    const res = await post(url, { ...options, headers, body });
    return httpOutcome(res.status);
  } catch (error) {
    return { ok: false, status_code: null, error: requestError(error, options.timeout) };
  }
}

/** The services' own words for a refusal: Telegram's `description`, PagerDuty's `message` and `errors`, Slack's plain text… */
function refusalOf(text: string): string {
  try {
    const answer = JSON.parse(text) as Record<string, unknown>;
    const said = [answer.description, answer.message, answer.errorDescription, answer.error].find((v) => typeof v === 'string');
    const errors = Array.isArray(answer.errors) ? answer.errors.filter((e) => typeof e === 'string').join('; ') : '';
    return [said, errors].filter(Boolean).join(': ').slice(0, 200);
  } catch {
    return /^[\x20-\x7e]{1,200}$/.test(text.trim()) ? text.trim() : '';
  }
}

/**
 * Sends a payload to a chat or paging service (Slack, Discord, Teams, Telegram,
 * ntfy, PagerDuty, Gotify) in that service's format. 2xx is delivered; a refusal
 * carries the service's explanation; a 410 unsubscribes like a webhook's.
 */
export async function sendService(
  config: Pick<NotificationConfig, 'notification_type' | 'recipient' | 'base_url'> & { notification_type: ServiceType },
  secret: string | null,
  payload: AnyPayload,
  link: string | undefined,
  options: AttemptOptions,
): Promise<AttemptOutcome> {
  const request = serviceRequest(config, secret, payload, link);
  try {
    const res = await post(request.url, { ...options, headers: request.headers, body: request.body, readAnswer: true });
    const outcome = httpOutcome(res.status);
    if (outcome.ok) return outcome;
    const why = refusalOf(res.text);
    return { ...outcome, error: `HTTP ${res.status}${why ? `: ${why}` : ''}` };
  } catch (error) {
    return { ok: false, status_code: null, error: requestError(error, options.timeout) };
  }
}

/** Sends a text through a Twilio-compatible API: form-encoded To, From, Body, basic auth; 2xx is sent. */
export async function sendSms(sms: SmsOptions, to: string, payload: AnyPayload, options: AttemptOptions): Promise<AttemptOutcome> {
  const url = `${sms.url.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(sms.accountSid)}/Messages.json`;
  try {
    const res = await post(url, {
      ...options,
      headers: {
        authorization: `Basic ${Buffer.from(`${sms.accountSid}:${sms.authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ To: to, From: sms.from, Body: summaryOfAny(payload).slice(0, 1600) }).toString(),
      // Twilio explains a refusal in `message` (e.g. an unverified number): worth showing.
      readAnswer: true,
    });
    const outcome = httpOutcome(res.status);
    if (outcome.ok) return outcome;
    let detail = '';
    try {
      const message = (JSON.parse(res.text) as { message?: unknown }).message;
      if (typeof message === 'string') detail = `: ${message.slice(0, 200)}`;
    } catch {
      // not JSON: the status says enough
    }
    return { ok: false, status_code: res.status, error: `HTTP ${res.status}${detail}` };
  } catch (error) {
    return { ok: false, status_code: null, error: requestError(error, options.timeout) };
  }
}

/** What `sendEmail` needs of a nodemailer transport (structural, so the public types do not need @types/nodemailer). */
export interface MailTransport {
  sendMail(mail: { from: string; to: string; subject: string; text: string }): Promise<unknown>;
}

/** Sends an email through the SMTP transport; accepted by the server is sent. */
export async function sendEmail(
  transport: MailTransport,
  from: string,
  to: string,
  payload: AnyPayload,
  link?: string,
): Promise<AttemptOutcome> {
  try {
    await transport.sendMail({ from, to, subject: summaryOfAny(payload), text: textOfAny(payload, link) });
    return { ok: true, status_code: null, error: null };
  } catch (error) {
    const e = error as { responseCode?: number; response?: string };
    const message = e.response ? `SMTP ${e.response}` : describeError(error);
    return { ok: false, status_code: null, error: message.split('\n')[0]!.slice(0, 300) };
  }
}
