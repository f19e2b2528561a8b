import type { NotificationConfig } from '../types.js';
import { chatTextOf, render, type AnyPayload, type Rendered } from './message.js';

/** The public APIs whose base URL a config may replace (a self-hosted ntfy, a proxy, a test receiver). */
export const DEFAULT_BASE_URLS = {
  telegram: 'https://api.telegram.org',
  ntfy: 'https://ntfy.sh',
  pagerduty: 'https://events.pagerduty.com',
} as const;

/** The chat and paging services: every type but email, sms and webhook. */
export type ServiceType = Exclude<NotificationConfig['notification_type'], 'email' | 'sms' | 'webhook'>;

export const SERVICE_TYPES: readonly ServiceType[] = ['slack', 'discord', 'teams', 'telegram', 'ntfy', 'pagerduty', 'gotify'];

export function isServiceType(type: string): type is ServiceType {
  return (SERVICE_TYPES as readonly string[]).includes(type);
}

/** One request to a service, built from the frozen payload at send time. */
export interface ServiceRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

type Config = Pick<NotificationConfig, 'notification_type' | 'recipient' | 'base_url'>;

const trimSlash = (url: string) => url.replace(/\/+$/, '');

function baseOf(config: Config, type: keyof typeof DEFAULT_BASE_URLS): string {
  return trimSlash(config.base_url ?? DEFAULT_BASE_URLS[type]);
}

/** Where a service config's requests go, without the secret (it may sit in the path or query). */
export function serviceOrigin(config: Config): string {
  const type = config.notification_type;
  const url = type === 'telegram' || type === 'ntfy' || type === 'pagerduty' ? baseOf(config, type) : config.recipient;
  try {
    return new URL(url).origin;
  } catch {
    return type;
  }
}

const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const json = (body: unknown): Pick<ServiceRequest, 'headers' | 'body'> => ({
  headers: { 'content-type': 'application/json', 'user-agent': 'express-lifeline-monitor' },
  body: JSON.stringify(body),
});

/** Slack's mrkdwn and Telegram's HTML both need these three escaped, and nothing else. */
const escapeAngles = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Slack incoming webhook: `text` (the notification's fallback) and Block Kit `blocks`. */
function slack(config: Config, p: Rendered, link: string | undefined): ServiceRequest {
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(p.summary, 150), emoji: true } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: cut([p.since, `*Server:* ${p.subject}`, `*Last check:* ${p.check}`].map(escapeAngles).join('\n'), 3000),
      },
    },
  ];
  if (link) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open the dashboard' }, url: link }] });
  }
  return { url: config.recipient, ...json({ text: cut(chatTextOf(p, link), 3000), blocks }) };
}

/** Discord webhook: `content` and one embed; mentions in server names are never pinged. */
function discord(config: Config, p: Rendered, link: string | undefined): ServiceRequest {
  const embed: Record<string, unknown> = {
    title: cut(p.summary, 256),
    description: cut(p.since, 4096),
    color: p.alarm ? 0xd93f0b : 0x2ea043,
    timestamp: p.timestamp,
    fields: [
      { name: 'Server', value: cut(p.subject, 1024), inline: false },
      { name: 'Last check', value: cut(p.check, 1024), inline: false },
    ],
  };
  if (link) embed.url = link;
  return {
    url: config.recipient,
    ...json({ content: cut(p.summary, 2000), embeds: [embed], allowed_mentions: { parse: [] } }),
  };
}

/**
 * Microsoft Teams through a Workflows ("Post to a channel when a webhook request is
 * received") URL: a `message` with one Adaptive Card attachment. Office 365 connectors'
 * MessageCard is retired, so it is not sent.
 */
function teams(config: Config, p: Rendered, link: string | undefined): ServiceRequest {
  const card: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      { type: 'TextBlock', text: p.summary, weight: 'Bolder', size: 'Medium', wrap: true, color: p.alarm ? 'Attention' : 'Good' },
      { type: 'TextBlock', text: p.since, wrap: true },
      {
        type: 'FactSet',
        facts: [
          { title: 'Server', value: p.subject },
          { title: 'Last check', value: p.check },
        ],
      },
    ],
  };
  if (link) card.actions = [{ type: 'Action.OpenUrl', title: 'Open the dashboard', url: link }];
  return {
    url: config.recipient,
    ...json({
      type: 'message',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }],
    }),
  };
}

/** Telegram Bot API `sendMessage` with HTML formatting. */
function telegram(config: Config, token: string, p: Rendered, link: string | undefined): ServiceRequest {
  const lines = [`<b>${escapeAngles(p.summary)}</b>`, escapeAngles(p.since), escapeAngles(p.subject)];
  lines.push(`Last check: ${escapeAngles(p.check)}`);
  if (link) lines.push(`<a href="${escapeAngles(link).replace(/"/g, '&quot;')}">Open the dashboard</a>`);
  const chat = /^-?\d+$/.test(config.recipient) ? Number(config.recipient) : config.recipient;
  return {
    url: `${baseOf(config, 'telegram')}/bot${token}/sendMessage`,
    ...json({ chat_id: chat, text: cut(lines.join('\n'), 4096), parse_mode: 'HTML', link_preview_options: { is_disabled: true } }),
  };
}

/** A header value beyond Latin-1 as RFC 2047 (ntfy decodes it); plain ASCII as it is. */
function headerText(text: string): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  return /^[\x20-\x7e]*$/.test(line) ? line : `=?UTF-8?B?${Buffer.from(line, 'utf8').toString('base64')}?=`;
}

/** ntfy: the message as the body of `POST {base}/{topic}`, the rest in headers. */
function ntfy(config: Config, token: string | null, p: Rendered, link: string | undefined): ServiceRequest {
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'user-agent': 'express-lifeline-monitor',
    title: headerText(cut(p.summary, 250)),
    priority: p.alarm ? '4' : '3',
    tags: p.alarm ? 'rotating_light' : 'white_check_mark',
  };
  if (link) headers.click = link;
  if (token) headers.authorization = `Bearer ${token}`;
  const body = [p.since, p.subject, `Last check: ${p.check}`].join('\n');
  return { url: `${baseOf(config, 'ntfy')}/${encodeURIComponent(config.recipient)}`, headers, body: cut(body, 4000) };
}

/**
 * One outage, one PagerDuty alert: the key names the server (or the monitor's network)
 * and when the trouble began, so reminders update the open alert and the recovery resolves it.
 */
export function dedupKeyOf(p: AnyPayload): string {
  return render(p).key;
}

/** PagerDuty Events API v2: `trigger` on down (and reminders), `resolve` on recovery, one `dedup_key` per outage. */
function pagerduty(config: Config, routingKey: string, p: Rendered, link: string | undefined): ServiceRequest {
  const url = `${baseOf(config, 'pagerduty')}/v2/enqueue`;
  const dedup_key = p.key;
  if (!p.alarm) return { url, ...json({ routing_key: routingKey, event_action: 'resolve', dedup_key }) };
  const event: Record<string, unknown> = {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    payload: {
      summary: cut(p.summary, 1024),
      source: p.source,
      severity: 'critical',
      timestamp: p.began,
      component: p.component,
      class: 'availability',
      custom_details: p.details,
    },
    client: 'express-lifeline monitor',
  };
  if (link) {
    event.client_url = link;
    event.links = [{ href: link, text: 'Open the dashboard' }];
  }
  return { url, ...json(event) };
}

/** Gotify: `POST {server}/message?token=` with title, message and priority (8 for down: a phone rings). */
function gotify(config: Config, token: string, p: Rendered, link: string | undefined): ServiceRequest {
  const extras: Record<string, unknown> = { 'client::display': { contentType: 'text/plain' } };
  if (link) extras['client::notification'] = { click: { url: link } };
  return {
    url: `${trimSlash(config.recipient)}/message?token=${encodeURIComponent(token)}`,
    ...json({
      title: cut(p.summary, 250),
      message: [p.since, p.subject, `Last check: ${p.check}`].join('\n'),
      priority: p.alarm ? 8 : 4,
      extras,
    }),
  };
}

/**
 * The request a service config sends for a payload. `secret` is the config's stored
 * secret (bot token, ntfy access token, routing key, application token); validation
 * made sure the types that need one have one.
 */
export function serviceRequest(
  config: Config & { notification_type: ServiceType },
  secret: string | null,
  payload: AnyPayload,
  link: string | undefined,
): ServiceRequest {
  const p = render(payload);
  switch (config.notification_type) {
    case 'slack':
      return slack(config, p, link);
    case 'discord':
      return discord(config, p, link);
    case 'teams':
      return teams(config, p, link);
    case 'telegram':
      return telegram(config, secret ?? '', p, link);
    case 'ntfy':
      return ntfy(config, secret, p, link);
    case 'pagerduty':
      return pagerduty(config, secret ?? '', p, link);
    case 'gotify':
      return gotify(config, secret ?? '', p, link);
  }
}
