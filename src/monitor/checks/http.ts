import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { Server } from '../types.js';
import { parseStatusRanges } from '../validate.js';
import { describeError } from './errors.js';
import type { CheckContext, CheckOutcome } from './types.js';

const MAX_REDIRECTS = 5;
/** Enough for a keyword in a page; the rest of a larger body is discarded unread. */
const MAX_BODY = 1024 * 1024;
/** A health answer is small; a bigger JSON body is not parsed. */
const MAX_HEALTH_JSON = 64 * 1024;
const HEADERS = { 'user-agent': 'express-lifeline-monitor', accept: 'application/json, text/html;q=0.9, */*;q=0.8' };

class CheckTimeout extends Error {
  override readonly name = 'CheckTimeout';
}

interface Answer {
  statusCode: number;
  location: string | undefined;
  contentType: string;
  body: string | undefined;
}

/** Builds the URL of a server's check, bracketing IPv6 hosts. */
export function targetUrl(server: Pick<Server, 'protocol' | 'host' | 'port' | 'path'>): URL {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return new URL(`${server.protocol}://${host}:${server.port}${server.path}`);
}

/**
 * The trusted roots with extra CAs added, as one TLS context per list: given as `ca`,
 * every connection would build its own (~30 ms of CPU parsing ~140 roots, and native
 * memory the GC does not see).
 */
const caCache = new WeakMap<ReadonlyArray<string>, SecureContext>();
function trusted(ca: ReadonlyArray<string> | undefined): SecureContext | undefined {
  if (!ca || ca.length === 0) return undefined;
  let context = caCache.get(ca);
  if (!context) caCache.set(ca, (context = createSecureContext({ ca: [...rootCertificates, ...ca] })));
  return context;
}

function requestOnce(url: URL, readBody: boolean, signal: AbortSignal, ca: SecureContext | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const options: https.RequestOptions & { secureContext?: SecureContext } = { method: 'GET', headers: HEADERS, agent: false, signal };
    if (secure && ca) options.secureContext = ca;
    const req = (secure ? https : http).request(url, options, (res: IncomingMessage) => {
      const statusCode = res.statusCode ?? 0;
      const location = statusCode >= 300 && statusCode < 400 ? res.headers.location : undefined;
      const contentType = String(res.headers['content-type'] ?? '');
      const wantBody = location === undefined && (readBody || contentType.includes('json'));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (!wantBody) return;
        if (size < MAX_BODY) chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_BODY) {
          // Enough read: stop the download rather than pull a large body.
          res.destroy();
          resolve({ statusCode, location, contentType, body: Buffer.concat(chunks).toString('utf8', 0, MAX_BODY) });
        }
      });
      res.on('end', () =>
        resolve({ statusCode, location, contentType, body: wantBody ? Buffer.concat(chunks).toString('utf8') : undefined }),
      );
      res.on('error', reject);
      if (location !== undefined) res.resume();
    });
    req.on('error', reject);
    req.end();
  });
}

function healthSaysDegraded(answer: Answer): boolean {
  if (!answer.contentType.includes('json') || answer.body === undefined || answer.body.length > MAX_HEALTH_JSON) return false;
  try {
    const parsed = JSON.parse(answer.body) as { status?: unknown };
    return parsed?.status === 'degraded';
  } catch {
    return false;
  }
}

/**
 * GETs a server's URL with one deadline for the whole exchange, following up to 5
 * redirects, and judges the final answer by status range, keyword and, for an
 * express-lifeline health endpoint, its `degraded` status.
 */
export async function httpCheck(server: Server, context: CheckContext = {}): Promise<CheckOutcome> {
  const ranges = parseStatusRanges(server.expected_status) ?? [[200, 399] as const];
  const controller = new AbortController();
  const timeoutMs = Math.max(1, Math.round(server.timeout * 1000));
  const timer = setTimeout(() => controller.abort(new CheckTimeout()), timeoutMs);
  const onClose = () => controller.abort(context.signal?.reason);
  context.signal?.addEventListener('abort', onClose, { once: true });
  const ca = trusted(context.ca);
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
  try {
    let url = targetUrl(server);
    for (let redirects = 0; ; redirects++) {
      const answer = await requestOnce(url, server.keyword !== null, controller.signal, ca);
      if (answer.location !== undefined) {
        if (redirects >= MAX_REDIRECTS) {
          return {
            status: 'failure',
            response_time: elapsed(),
            status_code: answer.statusCode,
            error_message: `more than ${MAX_REDIRECTS} redirects`,
          };
        }
        url = new URL(answer.location, url);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') {
          return {
            status: 'failure',
            response_time: elapsed(),
            status_code: answer.statusCode,
            error_message: `redirect to unsupported ${url.protocol} URL`,
          };
        }
        continue;
      }
      const response_time = elapsed();
      const code = answer.statusCode;
      if (!ranges.some(([lo, hi]) => code >= lo && code <= hi)) {
        return {
          status: 'failure',
          response_time,
          status_code: code,
          error_message: `expected status ${server.expected_status}, got ${code}`,
        };
      }
      if (server.keyword !== null && !(answer.body ?? '').includes(server.keyword)) {
        return {
          status: 'failure',
          response_time,
          status_code: code,
          error_message: `keyword "${server.keyword}" not found in the response`,
        };
      }
      const outcome: CheckOutcome = { status: 'success', response_time, status_code: code, error_message: null };
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
