// Local stand-ins for the chat and paging services, each on port 0 of 127.0.0.1. Each checks a
// request against the service's documented format (written here from the services' docs, not
// from the code under test) and answers as the service does: accepted, or refused with the
// service's own error body. A request that breaks the format is recorded with its problems.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServiceRequestSeen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body as JSON, when it is JSON. */
  json: Record<string, unknown> | undefined;
  /** What breaks the documented format; empty when the request is valid. */
  problems: string[];
  status: number;
}

export interface ServiceReceiver {
  /** The base URL (for telegram, ntfy, pagerduty) or the URL posted to (slack, discord, teams, gotify's server). */
  url: string;
  requests: ServiceRequestSeen[];
  /** The valid requests. */
  accepted(): ServiceRequestSeen[];
  close(): Promise<void>;
}

type Answer = { status: number; body: unknown; contentType?: string };
type Checker = (r: ServiceRequestSeen) => { problems: string[]; answer: Answer };

async function startReceiver(path: string, check: Checker): Promise<ServiceReceiver> {
  const requests: ServiceRequestSeen[] = [];
  const srv = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      let json: Record<string, unknown> | undefined;
      if (String(req.headers['content-type']).startsWith('application/json')) {
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
      }
      const seen: ServiceRequestSeen = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        text,
        json,
        problems: [],
        status: 0,
      };
      const { problems, answer } = check(seen);
      seen.problems = problems;
      seen.status = answer.status;
      requests.push(seen);
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'application/json' }).end(answer.status === 204 ? '' : body);
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    requests,
    accepted: () => requests.filter((r) => r.problems.length === 0),
    close: () =>
      new Promise((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

const isString = (v: unknown, max = Infinity): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function common(r: ServiceRequestSeen, path: string, problems: string[], json = true): void {
  if (r.method !== 'POST') problems.push(`method ${r.method}`);
  if (r.path !== path) problems.push(`path ${r.path}`);
  if (json && !r.json) problems.push('body is not application/json');
}

/** Slack incoming webhook: POST JSON with `text` (required as the fallback with blocks), optional Block Kit `blocks`; answers `ok`. */
export function startSlack(): Promise<ServiceReceiver> {
  const path = '/services/T000/B000/XXXXXXXX';
  return startReceiver(path, (r) => {
    const problems: string[] = [];
    common(r, path, problems);
    const b = r.json ?? {};
    if (!isString(b.text, 40_000)) problems.push('text missing');
    if (b.blocks !== undefined) {
      if (!Array.isArray(b.blocks) || b.blocks.length > 50) problems.push('blocks must be an array of at most 50');
      else
        for (const block of b.blocks as unknown[]) {
          if (!isObject(block) || !['header', 'section', 'actions', 'context', 'divider'].includes(String(block.type)))
            problems.push(`bad block ${JSON.stringify(block)}`);
          else if (block.type === 'header' && !(isObject(block.text) && block.text.type === 'plain_text' && isString(block.text.text, 150)))
            problems.push('header needs plain_text of at most 150');
          else if (block.type === 'section' && !(isObject(block.text) && isString(block.text.text, 3000)))
            problems.push('section text of at most 3000');
        }
    }
    return problems.length
      ? { problems, answer: { status: 400, body: 'invalid_payload', contentType: 'text/plain' } }
      : { problems, answer: { status: 200, body: 'ok', contentType: 'text/plain' } };
  });
}

/** Discord webhook: `content` (≤2000) and/or `embeds` (≤10; title ≤256, description ≤4096, integer color); answers 204. */
export function startDiscord(): Promise<ServiceReceiver> {
  const path = '/api/webhooks/123456/token-abc';
  return startReceiver(path, (r) => {
    const problems: string[] = [];
    common(r, path, problems);
    const b = r.json ?? {};
    if (b.content === undefined && b.embeds === undefined) problems.push('content or embeds required');
    if (b.content !== undefined && !isString(b.content, 2000)) problems.push('content of at most 2000');
    if (b.embeds !== undefined) {
      if (!Array.isArray(b.embeds) || b.embeds.length > 10) problems.push('embeds: at most 10');
      else
        for (const e of b.embeds as unknown[]) {
          if (!isObject(e)) problems.push('embed must be an object');
          else {
            if (e.title !== undefined && !isString(e.title, 256)) problems.push('embed title of at most 256');
            if (e.description !== undefined && !isString(e.description, 4096)) problems.push('embed description of at most 4096');
            if (e.color !== undefined && !Number.isInteger(e.color)) problems.push('embed color must be an integer');
            if (e.timestamp !== undefined && Number.isNaN(Date.parse(String(e.timestamp)))) problems.push('embed timestamp ISO 8601');
          }
        }
    }
    return problems.length
      ? { problems, answer: { status: 400, body: { message: 'Invalid Form Body', code: 50035 } } }
      : { problems, answer: { status: 204, body: '' } };
  });
}

/** Teams Workflows webhook: `{type: "message", attachments: [{contentType: adaptive card, content: AdaptiveCard}]}`; answers 202. */
export function startTeams(): Promise<ServiceReceiver> {
  const path = '/workflows/abc/triggers/manual/paths/invoke';
  return startReceiver(path, (r) => {
    const problems: string[] = [];
    common(r, path, problems);
    const b = r.json ?? {};
    if (b.type !== 'message') problems.push('type must be message');
    const attachments = b.attachments;
    if (!Array.isArray(attachments) || attachments.length === 0) problems.push('attachments required');
    else {
      const a = attachments[0] as Record<string, unknown>;
      if (a.contentType !== 'application/vnd.microsoft.card.adaptive') problems.push('contentType must be the adaptive card type');
      const card = a.content;
      if (!isObject(card) || card.type !== 'AdaptiveCard' || !isString(card.version) || !Array.isArray(card.body))
        problems.push('content must be an AdaptiveCard with version and body');
    }
    return problems.length
      ? { problems, answer: { status: 400, body: { error: { code: 'InvalidRequestContent', message: problems.join('; ') } } } }
      : { problems, answer: { status: 202, body: '' } };
  });
}

/** Telegram Bot API: POST /bot<token>/sendMessage with chat_id and text (≤4096), parse_mode optional. */
export function startTelegram(token: string): Promise<ServiceReceiver> {
  let next = 1;
  return startReceiver('', (r) => {
    const problems: string[] = [];
    if (r.path !== `/bot${token}/sendMessage`) {
      return {
        problems: ['wrong token or method'],
        answer: { status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } },
      };
    }
    common(r, r.path, problems);
    const b = r.json ?? {};
    if (!(typeof b.chat_id === 'number' || isString(b.chat_id))) problems.push('chat_id must be an integer or a string');
    if (!isString(b.text, 4096)) problems.push('text of 1-4096 characters');
    if (b.parse_mode !== undefined && !['HTML', 'MarkdownV2', 'Markdown'].includes(String(b.parse_mode))) problems.push('bad parse_mode');
    if (b.parse_mode === 'HTML' && typeof b.text === 'string') {
      // Telegram's HTML: only its few tags; every other < must be escaped.
      const tags = b.text.match(/<\/?([a-z-]+)[^>]*>/g) ?? [];
      for (const tag of tags)
        if (!/^<\/?(b|strong|i|em|u|s|a|code|pre)( href="[^"]*")?>$/.test(tag)) problems.push(`unsupported tag ${tag}`);
    }
    return problems.length
      ? { problems, answer: { status: 400, body: { ok: false, error_code: 400, description: `Bad Request: ${problems[0]}` } } }
      : { problems, answer: { status: 200, body: { ok: true, result: { message_id: next++, chat: { id: b.chat_id }, text: b.text } } } };
  });
}

/** ntfy: POST /<topic>, the message as the body, Title/Priority/Tags/Click headers, optional bearer token. */
export function startNtfy(topic: string, token?: string): Promise<ServiceReceiver> {
  return startReceiver('', (r) => {
    const problems: string[] = [];
    common(r, `/${topic}`, problems, false);
    if (token && r.headers.authorization !== `Bearer ${token}`)
      return { problems: ['unauthorized'], answer: { status: 403, body: { code: 40301, http: 403, error: 'forbidden' } } };
    if (r.text.length === 0 || Buffer.byteLength(r.text) > 4096) problems.push('message of 1-4096 bytes');
    const priority = String(r.headers.priority ?? '3');
    if (!['1', '2', '3', '4', '5', 'min', 'low', 'default', 'high', 'max', 'urgent'].includes(priority)) problems.push('bad priority');
    if (r.headers.title === undefined) problems.push('title header expected');
    if (r.headers.click !== undefined && !/^https?:\/\//.test(String(r.headers.click))) problems.push('click must be a URL');
    return problems.length
      ? { problems, answer: { status: 400, body: { code: 40000, http: 400, error: problems[0] } } }
      : {
          problems,
          answer: { status: 200, body: { id: 'abc', time: Math.floor(Date.now() / 1000), event: 'message', topic, message: r.text } },
        };
  });
}

/** PagerDuty Events API v2: POST /v2/enqueue; trigger needs payload.summary, source, severity; resolve needs a dedup_key. */
export function startPagerDuty(routingKey: string): Promise<ServiceReceiver> {
  return startReceiver('', (r) => {
    const problems: string[] = [];
    common(r, '/v2/enqueue', problems);
    const b = r.json ?? {};
    if (b.routing_key !== routingKey) problems.push('unknown routing_key');
    if (!['trigger', 'acknowledge', 'resolve'].includes(String(b.event_action))) problems.push('event_action');
    if (b.dedup_key !== undefined && !isString(b.dedup_key, 255)) problems.push('dedup_key of at most 255');
    if (b.event_action !== 'trigger' && !isString(b.dedup_key)) problems.push('dedup_key required to acknowledge or resolve');
    if (b.event_action === 'trigger') {
      const p = b.payload;
      if (!isObject(p)) problems.push('payload required');
      else {
        if (!isString(p.summary, 1024)) problems.push('payload.summary of at most 1024');
        if (!isString(p.source)) problems.push('payload.source required');
        if (!['critical', 'error', 'warning', 'info'].includes(String(p.severity))) problems.push('payload.severity');
        if (p.timestamp !== undefined && Number.isNaN(Date.parse(String(p.timestamp)))) problems.push('payload.timestamp ISO 8601');
      }
    }
    return problems.length
      ? { problems, answer: { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: problems } } }
      : { problems, answer: { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: b.dedup_key } } };
  });
}

/** Gotify: POST {server}/message with the application token (`?token=` or X-Gotify-Key), `message` required, `title`, integer `priority`. */
export function startGotify(appToken: string): Promise<ServiceReceiver> {
  let next = 1;
  return startReceiver('/gotify', (r) => {
    const problems: string[] = [];
    const token = r.query.get('token') ?? r.headers['x-gotify-key'];
    if (token !== appToken)
      return {
        problems: ['unauthorized'],
        answer: {
          status: 401,
          body: { error: 'Unauthorized', errorCode: 401, errorDescription: 'you need to provide a valid access token' },
        },
      };
    common(r, '/gotify/message', problems);
    const b = r.json ?? {};
    if (!isString(b.message)) problems.push('message required');
    if (b.title !== undefined && typeof b.title !== 'string') problems.push('title must be a string');
    if (b.priority !== undefined && !Number.isInteger(b.priority)) problems.push('priority must be an integer');
    return problems.length
      ? { problems, answer: { status: 400, body: { error: 'Bad Request', errorCode: 400, errorDescription: problems[0] } } }
      : { problems, answer: { status: 200, body: { id: next++, appid: 1, message: b.message, title: b.title, priority: b.priority } } };
  });
}
