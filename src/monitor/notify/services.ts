import type { NotificationConfig } from '../types.js';
import type { NotificationPayload } from './message.js';
import { checkOf, chatTextOf, sinceOf, summaryOf, target } from './message.js';

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
const isDown = (p: NotificationPayload) => p.type === 'server.down';

/** Slack's mrkdwn and Telegram's HTML both need these three escaped, and nothing else. */
const escapeAngles = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Slack incoming webhook: `text` (the notification's fallback) and Block Kit `blocks`. */
function slack(config: Config, p: NotificationPayload, link: string | undefined): ServiceRequest {
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(summaryOf(p), 150), emoji: true } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: cut(
          [sinceOf(p), `*Server:* ${p.server.name} (${target(p.server)})`, `*Last check:* ${checkOf(p)}`].map(escapeAngles).join('\n'),
          3000,
        ),
      },
    },
  ];
  if (link) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open the dashboard' }, url: link }] });
  }
  return { url: config.recipient, ...json({ text: cut(chatTextOf(p, link), 3000), blocks }) };
}

/** Discord webhook: `content` and one embed; mentions in server names are never pinged. */
function discord(config: Config, p: NotificationPayload, link: string | undefined): ServiceRequest {
  const embed: Record<string, unknown> = {
    title: cut(summaryOf(p), 256),
    description: cut(sinceOf(p), 4096),
    color: isDown(p) ? 0xd93f0b : 0x2ea043,
    timestamp: p.timestamp,
    fields: [
      { name: 'Server', value: cut(`${p.server.name} (${target(p.server)})`, 1024), inline: false },
      { name: 'Last check', value: cut(checkOf(p), 1024), inline: false },
    ],
  };
  if (link) embed.url = link;
  return {
    url: config.recipient,
    ...json({ content: cut(summaryOf(p), 2000), embeds: [embed], allowed_mentions: { parse: [] } }),
  };
}

/**
 * Microsoft Teams through a Workflows ("Post to a channel when a webhook request is
 * received") URL: a `message` with one Adaptive Card attachment. Office 365 connectors'
 * MessageCard is retired, so it is not sent.
 */
function teams(config: Config, p: NotificationPayload, link: string | undefined): ServiceRequest {
  const card: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      { type: 'TextBlock', text: summaryOf(p), weight: 'Bolder', size: 'Medium', wrap: true, color: isDown(p) ? 'Attention' : 'Good' },
      { type: 'TextBlock', text: sinceOf(p), wrap: true },
      {
        type: 'FactSet',
        facts: [
          { title: 'Server', value: `${p.server.name} (${target(p.server)})` },
          { title: 'Last check', value: checkOf(p) },
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
function telegram(config: Config, token: string, p: NotificationPayload, link: string | undefined): ServiceRequest {
  const lines = [`<b>${escapeAngles(summaryOf(p))}</b>`, escapeAngles(sinceOf(p)), escapeAngles(`${p.server.name} (${target(p.server)})`)];
  lines.push(`Last check: ${escapeAngles(checkOf(p))}`);
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
function ntfy(config: Config, token: string | null, p: NotificationPayload, link: string | undefined): ServiceRequest {
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'user-agent': 'express-lifeline-monitor',
    title: headerText(cut(summaryOf(p), 250)),
    priority: isDown(p) ? '4' : '3',
    tags: isDown(p) ? 'rotating_light' : 'white_check_mark',
  };
  if (link) headers.click = link;
  if (token) headers.authorization = `Bearer ${token}`;
  const body = [sinceOf(p), `${p.server.name} (${target(p.server)})`, `Last check: ${checkOf(p)}`].join('\n');
  return { url: `${baseOf(config, 'ntfy')}/${encodeURIComponent(config.recipient)}`, headers, body: cut(body, 4000) };
}

/**
 * One outage, one PagerDuty alert: the key names the server and the outage's start,
 * so reminders update the open alert and the recovery resolves it.
 */
export function dedupKeyOf(p: NotificationPayload): string {
  const since = p.down_since ?? (isDown(p) ? p.status.last_change : p.timestamp);
  return `lifeline-server-${p.server.id}-${Date.parse(since) || 0}`;
}

/** PagerDuty Events API v2: `trigger` on down (and reminders), `resolve` on recovery, one `dedup_key` per outage. */
function pagerduty(config: Config, routingKey: string, p: NotificationPayload, link: string | undefined): ServiceRequest {
  const url = `${baseOf(config, 'pagerduty')}/v2/enqueue`;
  const dedup_key = dedupKeyOf(p);
  if (!isDown(p)) return { url, ...json({ routing_key: routingKey, event_action: 'resolve', dedup_key }) };
  const event: Record<string, unknown> = {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    payload: {
      summary: cut(summaryOf(p), 1024),
      source: target(p.server),
      severity: 'critical',
      timestamp: p.down_since ?? p.timestamp,
      component: p.server.name,
      class: 'availability',
      custom_details: { since: sinceOf(p), last_check: checkOf(p), server_id: p.server.id, tags: p.server.tags },
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
function gotify(config: Config, token: string, p: NotificationPayload, link: string | undefined): ServiceRequest {
  const extras: Record<string, unknown> = { 'client::display': { contentType: 'text/plain' } };
  if (link) extras['client::notification'] = { click: { url: link } };
  return {
    url: `${trimSlash(config.recipient)}/message?token=${encodeURIComponent(token)}`,
    ...json({
      title: cut(summaryOf(p), 250),
      message: [sinceOf(p), `${p.server.name} (${target(p.server)})`, `Last check: ${checkOf(p)}`].join('\n'),
      priority: isDown(p) ? 8 : 4,
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
  p: NotificationPayload,
  link: string | undefined,
): ServiceRequest {
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
