import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect, TLSSocket, type ConnectionOptions } from 'node:tls';
import type { Server } from '../types.js';
import { parseStatusRanges } from '../validate.js';
import { guardedLookup, linkLocalAllowed, literalRefusal } from './address.js';
import { jsonFailure, keywordFailure, MAX_ASSERTED_BODY } from './assertions.js';
import { describeError } from './errors.js';
import { trustOf, type Trust } from './sessions.js';
import type { CheckContext, CheckOutcome } from './types.js';

const MAX_REDIRECTS = 5;
/** Enough for a keyword in a page or a JSON answer; the rest of a larger body is not downloaded. */
const MAX_BODY = MAX_ASSERTED_BODY;
/** A health answer is small; a bigger JSON body is not parsed. */
const MAX_HEALTH_JSON = 64 * 1024;
const HEADERS = { 'user-agent': 'express-lifeline-monitor', accept: 'application/json, text/html;q=0.9, */*;q=0.8' };

// One connection per check, closed with it (keepAlive false: no socket outlives its check);
// TLS sessions are resumed through `session`, from the trust's cache, not the agent's.
const httpAgent = new http.Agent({ keepAlive: false });
/**
 * Sets a resumed session once: tls.connect() given `session` parses it twice (the
 * TLSSocket's constructor, then its own `setSession`, which every Node since 0.11 has
 * but the types do not show), and a session holds the peer's certificate: the second
 * parse was ~20 % of an HTTPS check's CPU.
 */
type Resumable = TLSSocket & { setSession(session: Buffer): void };
const canSetSession = typeof (TLSSocket.prototype as Partial<Resumable>).setSession === 'function';
class ResumingAgent extends https.Agent {
  override createConnection(options: ConnectionOptions): TLSSocket {
    const { session, ...rest } = options;
    if (!session || !canSetSession) return tlsConnect(options);
    const socket = tlsConnect(rest) as Resumable;
    socket.setSession(session);
    return socket;
  }
}
const httpsAgent = new ResumingAgent({ keepAlive: false, maxCachedSessions: 0 });

class CheckTimeout extends Error {
  override readonly name = 'CheckTimeout';
}

/** Why the body was not read to its end. */
type Cut = 'bound' | 'timeout' | 'found';

interface Answer {
  statusCode: number;
  location: string | undefined;
  contentType: string;
  /** Time to the status line and headers, ms. */
  headersAt: number;
  /** What was read of the body (undefined: not read). */
  body: Buffer | undefined;
  cut: Cut | undefined;
  /** https: the certificate's expiry, from this handshake or (resumed) the target's last full one. */
  certExpiresAt: string | undefined;
}

interface Request {
  url: URL;
  keyword: Buffer | undefined;
  /** A JSON path is asserted: the whole body (within bounds) is needed. */
  wholeBody: boolean;
  signal: AbortSignal;
  trust: Trust;
  lookup: LookupFunction;
  started: number;
}

/** Builds the URL of a server's check, bracketing IPv6 hosts. */
export function targetUrl(server: Pick<Server, 'protocol' | 'host' | 'port' | 'path'>): URL {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return new URL(`${server.protocol}://${host}:${server.port}${server.path}`);
}

/**
 * One GET, decided as early as the answer allows: at the headers for a redirect or
 * when no body is needed (the connection is closed there: an endless answer is not
 * read), else once the keyword is seen, the body ends, or its bound is reached. A
 * timeout after the headers decides on what was read.
 */
function requestOnce({ url, keyword, wholeBody, signal, trust, lookup, started }: Request): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const sessionKey = `${url.hostname}:${url.port}`;
    const options: https.RequestOptions & Pick<ConnectionOptions, 'secureContext' | 'session'> = {
      method: 'GET',
      headers: HEADERS,
      signal,
      lookup,
    };
    if (secure) {
      options.agent = httpsAgent;
      options.secureContext = trust.context;
      const session = trust.sessions.get(sessionKey);
      if (session) options.session = session;
    } else {
      options.agent = httpAgent;
    }
    const req = (secure ? https : http).request(url, options, (res: IncomingMessage) => {
      const headersAt = performance.now() - started;
      const statusCode = res.statusCode ?? 0;
      const location = statusCode >= 300 && statusCode < 400 ? res.headers.location : undefined;
      const contentType = String(res.headers['content-type'] ?? '');
      const json = contentType.includes('json');
      const limit = location !== undefined ? 0 : keyword || wholeBody ? MAX_BODY : json ? MAX_HEALTH_JSON : 0;
      const answer: Answer = { statusCode, location, contentType, headersAt, body: undefined, cut: undefined, certExpiresAt: undefined };
      if (secure) answer.certExpiresAt = certificateExpiry(res.socket as TLSSocket, trust, sessionKey);
      if (limit === 0) {
        res.destroy();
        return resolve(answer);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let tail: Buffer = Buffer.alloc(0);
      let settled = false;
      const finish = (cut: Cut | undefined) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        answer.body = Buffer.concat(chunks, Math.min(size, limit));
        answer.cut = cut;
        if (cut !== undefined) res.destroy();
        resolve(answer);
      };
      const onAbort = () => (signal.reason instanceof CheckTimeout ? finish('timeout') : reject(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        // A keyword in a page (not in a health answer, parsed whole) decides as soon as it is seen.
        if (keyword && !json && !wholeBody) {
          const window = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
          if (window.includes(keyword)) return finish('found');
          tail = window.subarray(Math.max(0, window.length - keyword.length + 1));
        }
        if (size >= limit) finish('bound');
      });
      res.on('end', () => finish(undefined));
      res.on('error', reject);
      res.on('close', () => reject(new Error('connection closed before the end of the answer')));
    });
    if (secure) {
      req.on('socket', (socket) => {
        const tls = socket as TLSSocket;
        tls.on('session', (session: Buffer) => trust.sessions.set(sessionKey, session, tls.isSessionReused()));
      });
    }
    req.on('error', (error) => {
      if (secure && !signal.aborted) trust.sessions.delete(sessionKey);
      reject(error);
    });
    req.end();
  });
}

/** The expiry of the certificate this connection's handshake verified, else (a resumed session) the one last seen. */
function certificateExpiry(socket: TLSSocket, trust: Trust, key: string): string | undefined {
  const validTo = socket.isSessionReused() ? undefined : socket.getPeerCertificate().valid_to;
  const at = validTo ? Date.parse(validTo) : NaN;
  if (Number.isNaN(at)) return trust.expiries.get(key);
  const expiresAt = new Date(at).toISOString();
  trust.expiries.set(key, expiresAt);
  return expiresAt;
}

function healthSaysDegraded(answer: Answer): boolean {
  const body = answer.body;
  if (!answer.contentType.includes('json') || body === undefined || answer.cut !== undefined || body.length > MAX_HEALTH_JSON) return false;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { status?: unknown };
    return parsed?.status === 'degraded';
  } catch {
    return false;
  }
}

/**
 * GETs a server's URL with one deadline for the whole exchange, following up to 5
 * redirects, and judges the final answer by status range, keyword and, for an
 * express-lifeline health endpoint, its `degraded` status. Link-local and metadata
 * addresses are refused as the target, as a redirect's target and as a looked-up
 * address, unless allowed (`MONITOR_ALLOW_LINK_LOCAL`).
 */
export async function httpCheck(server: Server, context: CheckContext = {}): Promise<CheckOutcome> {
  const ranges = parseStatusRanges(server.expected_status) ?? [[200, 399] as const];
  const allow = context.allowLinkLocal ?? linkLocalAllowed();
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
  const refused = literalRefusal(server.host, allow);
  if (refused) return { status: 'failure', response_time: null, status_code: null, error_message: refused };
  const controller = new AbortController();
  const timeoutMs = Math.max(1, Math.round(server.timeout * 1000));
  const timer = setTimeout(() => controller.abort(new CheckTimeout()), timeoutMs);
  const onClose = () => controller.abort(context.signal?.reason);
  context.signal?.addEventListener('abort', onClose, { once: true });
  const request = {
    keyword: server.keyword !== null ? Buffer.from(server.keyword) : undefined,
    wholeBody: server.json_path !== null,
    signal: controller.signal,
    trust: trustOf(context.ca),
    lookup: guardedLookup(allow, context.lookup),
    started,
  };
  try {
    let url = targetUrl(server);
    for (let redirects = 0; ; redirects++) {
      const answer = await requestOnce({ ...request, url });
      if (answer.location !== undefined) {
        const failure = (error_message: string): CheckOutcome => ({
          status: 'failure',
          response_time: elapsed(),
          status_code: answer.statusCode,
          error_message,
        });
        if (redirects >= MAX_REDIRECTS) return failure(`more than ${MAX_REDIRECTS} redirects`);
        url = new URL(answer.location, url);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') return failure(`redirect to unsupported ${url.protocol} URL`);
        const refusedRedirect = literalRefusal(url.hostname, allow, { redirect: true });
        if (refusedRedirect) return failure(refusedRedirect);
        continue;
      }
      // Decided at the headers, the answer's time is theirs; one whose body was read, the time to the decision.
      const response_time = answer.body === undefined ? Math.round(answer.headersAt * 1000) / 1000 : elapsed();
      const cert = answer.certExpiresAt !== undefined ? { cert_expires_at: answer.certExpiresAt } : {};
      const code = answer.statusCode;
      if (!ranges.some(([lo, hi]) => code >= lo && code <= hi)) {
        return {
          status: 'failure',
          response_time,
          status_code: code,
          error_message: `expected status ${server.expected_status}, got ${code}`,
          ...cert,
        };
      }
      const body = answer.body ?? Buffer.alloc(0);
      const found = request.keyword !== undefined && (answer.cut === 'found' || body.includes(request.keyword));
      const failed = keywordFailure(server, found, answer.cut) ?? jsonFailure(server, body, answer.cut);
      if (failed !== undefined) return { status: 'failure', response_time, status_code: code, error_message: failed, ...cert };
      const outcome: CheckOutcome = { status: 'success', response_time, status_code: code, error_message: null, ...cert };
      if (healthSaysDegraded(answer)) outcome.degraded = 'health endpoint reports degraded';
      return outcome;
    }
  } catch (error) {
    if (controller.signal.reason instanceof CheckTimeout) {
      return { status: 'timeout', response_time: null, status_code: null, error_message: `no answer within ${server.timeout} s` };
    }
    if (context.signal?.aborted) return { status: 'failure', response_time: null, status_code: null, error_message: 'check cancelled' };
    return { status: 'failure', response_time: null, status_code: null, error_message: describeError(error) };
  } finally {
    clearTimeout(timer);
    context.signal?.removeEventListener('abort', onClose);
  }
}
