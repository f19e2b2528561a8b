import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { guardedLookup, LinkLocalRefused, literalRefusal } from '../checks/address.js';

/** A refusal's explanation is read, not a large body. */
const MAX_ANSWER = 64 * 1024;

// No socket outlives its request: a receiver is not kept connected between notifications.
const httpAgent = new http.Agent({ keepAlive: false });
const httpsAgent = new https.Agent({ keepAlive: false });

export interface PostOptions {
  headers: Record<string, string>;
  body: string;
  /** One attempt may take this long, ms. */
  timeout: number;
  signal: AbortSignal;
  /** Read the answer's body (up to 64 KiB); otherwise the connection closes at the status line. */
  readAnswer?: boolean;
  /** Allow link-local and cloud metadata addresses, literal or looked up. Default false. */
  allowLinkLocal?: boolean;
  /** Resolves the host name (default `dns.lookup`); link-local answers are refused whatever resolves them. */
  lookup?: LookupFunction;
}

export interface PostAnswer {
  status: number;
  text: string;
}

/** Why a POST stopped early, for the attempt's error. */
export class PostStopped extends Error {
  constructor(readonly reason: 'timeout' | 'cancelled') {
    super(reason);
  }
}

/**
 * POSTs a body without following redirects. Link-local and metadata addresses are
 * refused before any connection (the URL's literal host, then every looked-up address).
 */
export function post(target: string, o: PostOptions): Promise<PostAnswer> {
  const url = new URL(target);
  const refused = literalRefusal(url.hostname, o.allowLinkLocal ?? false);
  if (refused) return Promise.reject(new LinkLocalRefused(refused));
  if (o.signal.aborted) return Promise.reject(new PostStopped('cancelled'));
  // Its own controller, not AbortSignal.any on the long-lived stop signal (which keeps every attempt's signal).
  const controller = new AbortController();
  const signal = controller.signal;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, o.timeout);
  const cancel = () => controller.abort();
  o.signal.addEventListener('abort', cancel, { once: true });
  const stopped = () => new PostStopped(timedOut ? 'timeout' : 'cancelled');
  return new Promise<PostAnswer>((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const req = (secure ? https : http).request(
      url,
      {
        method: 'POST',
        headers: { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) },
        agent: secure ? httpsAgent : httpAgent,
        lookup: guardedLookup(o.allowLinkLocal ?? false, o.lookup),
        signal,
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (!o.readAnswer) {
          res.destroy();
          return resolve({ status, text: '' });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          res.destroy();
          resolve({ status, text: Buffer.concat(chunks).toString('utf8', 0, Math.min(size, MAX_ANSWER)) });
        };
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= MAX_ANSWER) done();
        });
        res.on('end', done);
        // The status is known: a body cut short only loses the explanation.
        res.on('error', done);
        res.on('close', done);
      },
    );
    req.on('error', (error) => reject(signal.aborted ? stopped() : error));
    req.end(o.body);
  }).finally(() => {
    clearTimeout(timer);
    o.signal.removeEventListener('abort', cancel);
  });
}
