// Real receivers for the notification tests: a Standard Webhooks endpoint, an SMTP server and a
// Twilio-compatible SMS API, each on port 0 of 127.0.0.1.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * Verifies a webhook per the Standard Webhooks spec, written here from the spec (not from the
 * code under test): the key is the base64 part of `whsec_…`; the signed content is
 * `{webhook-id}.{webhook-timestamp}.{body}`; `webhook-signature` is a space-separated list of
 * `v1,<base64 HMAC-SHA256>`, one of which must match (constant-time); the timestamp must be within
 * five minutes of now.
 */
export function verifyWebhook(secret: string, headers: http.IncomingHttpHeaders, body: string): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || !signature) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export interface WebhookRequest {
  url: string;
  id: string;
  timestamp: string;
  verified: boolean;
  body: Record<string, unknown>;
  /** The status answered (0: none, the request was held or the socket closed). */
  answered: number;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  requests: WebhookRequest[];
  /** Ids answered 2xx once: what a receiver that drops repeats by `webhook-id` processed. */
  processed: Set<string>;
  /** The status of the next answers, in order; the last one repeats. `hold` never answers. */
  answers: Array<number | 'hold'>;
  /** Answers after this long, ms. */
  delay: number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(
  secret: string,
  { answers = [200], port = 0, delay = 0 }: { answers?: Array<number | 'hold'>; port?: number; delay?: number } = {},
): Promise<WebhookReceiver> {
  const receiver = { requests: [], processed: new Set<string>(), answers, delay } as unknown as WebhookReceiver;
  const srv = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const entry: WebhookRequest = {
        url: req.url ?? '',
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        verified: verifyWebhook(secret, req.headers, text),
        body: JSON.parse(text) as Record<string, unknown>,
        answered: 0,
        at: Date.now(),
      };
      receiver.requests.push(entry);
      const answer = receiver.answers.length > 1 ? receiver.answers.shift()! : receiver.answers[0]!;
      if (answer === 'hold') return;
      setTimeout(() => {
        if (!entry.verified) return void res.writeHead(401).end();
        entry.answered = answer;
        if (answer >= 200 && answer < 300) receiver.processed.add(entry.id);
        res.writeHead(answer, { 'content-type': 'application/json' }).end('{}');
      }, receiver.delay);
    });
  });
  srv.listen(port, '127.0.0.1');
  await once(srv, 'listening');
  receiver.port = (srv.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/hooks/monitor`;
  receiver.close = () =>
    new Promise((resolve) => {
      srv.closeAllConnections();
      srv.close(() => resolve());
    });
  return receiver;
}

export interface Mail {
  from: string;
  to: string[];
  user: string | undefined;
  subject: string;
  text: string;
}

/** A real SMTP server (smtp-server) with a login; STARTTLS is off, as on a local relay. */
export async function startSmtp({ user = 'monitor', pass = 's3cret' } = {}): Promise<{
  url: string;
  mails: Mail[];
  close(): Promise<void>;
}> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === pass) callback(null, { user });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (raw += chunk));
      stream.on('end', () => {
        const [head = '', ...rest] = raw.split('\r\n\r\n');
        const subject = /^Subject: (.*(?:\r\n[ \t].*)*)/m.exec(head)?.[1]?.replace(/\r\n[ \t]/g, ' ') ?? '';
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          subject,
          text: rest
            .join('\r\n\r\n')
            .replace(/=\r\n/g, '')
            .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        });
        callback();
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://${user}:${pass}@127.0.0.1:${port}`,
    mails,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface Sms {
  to: string;
  from: string;
  body: string;
}

/**
 * A local endpoint speaking Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json,
 * basic auth sid:token, form-encoded To, From, Body; answers 201 with the message as JSON, 401 on
 * bad credentials and 400 on a missing field, as Twilio does.
 */
export async function startSmsApi(
  sid: string,
  token: string,
): Promise<{ url: string; messages: Sms[]; rejected: number; close(): Promise<void> }> {
  const api = { messages: [] as Sms[], rejected: 0 } as { url: string; messages: Sms[]; rejected: number; close(): Promise<void> };
  const srv = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const reply = (status: number, body: object) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method !== 'POST' || req.url !== `/2010-04-01/Accounts/${sid}/Messages.json`)
        return reply(404, { code: 20404, message: 'Not found' });
      if (req.headers.authorization !== `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`) {
        api.rejected++;
        return reply(401, { code: 20003, message: 'Authenticate' });
      }
      if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded'))
        return reply(400, { message: 'form expected' });
      const form = new URLSearchParams(text);
      const [to, from, body] = [form.get('To'), form.get('From'), form.get('Body')];
      if (!to || !from || !body) return reply(400, { code: 21604, message: "A 'To' phone number is required." });
      api.messages.push({ to, from, body });
      reply(201, { sid: `SM${api.messages.length}`, account_sid: sid, to, from, body, status: 'queued' });
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  api.url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  api.close = () =>
    new Promise((resolve) => {
      srv.closeAllConnections();
      srv.close(() => resolve());
    });
  return api;
}
