/**
 * ServiceManager's HTTP client: one GET of a health endpoint and JSON API calls, each
 * bounded by a timeout, every failure turned into one line. Only `fetch`: the
 * supervisor must load without Express and its middlewares.
 */

export interface HealthResult {
  /** 2xx. */
  healthy: boolean;
  /**
   * The backend answered 2xx or a health report: it runs, even if a dependency is down.
   * false (no answer, or an answer without a report) counts toward a restart.
   */
  running: boolean;
  status?: number;
  body?: unknown;
  /** No answer: why (timeout, connection refused). */
  error?: string;
  /** Why it is not healthy, one line: `503 unhealthy: database`, `no answer within 5000 ms`. */
  reason?: string;
}

/** A failed apiCall(): HTTP status (0 when no answer came) and a one-line message. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** One GET of `url`: healthy on 2xx, running on 2xx or a health report, never rejects. */
export async function getHealth(url: string, timeout: number): Promise<HealthResult> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeout) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    if (response.ok) return { healthy: true, running: true, status: response.status, body };
    const reason = isHealthReport(body) ? describeReport(response.status, body) : undefined;
    return {
      healthy: false,
      running: reason !== undefined,
      status: response.status,
      body,
      reason: reason ?? `${response.status} without a health report`,
    };
  } catch (error) {
    const why = describeFetchError(error, timeout);
    return { healthy: false, running: false, error: why, reason: why };
  }
}

/** JSON in, JSON out; rejects with an ApiError on a non-2xx answer, a body that is not JSON, a timeout or no connection. */
export async function requestJson(url: URL, method: string, body: unknown, timeout: number): Promise<unknown> {
  const what = `${method} ${url.pathname}${url.search}`;
  try {
    const init: RequestInit = {
      method,
      headers: { Accept: 'application/json' },
      signal: AbortSignal.timeout(timeout),
    };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ApiError(`${what}: the backend answered ${response.status} with a body that is not JSON`, response.status, text);
      }
    }
    if (!response.ok) {
      const message = (parsed as { error?: { message?: unknown } } | undefined)?.error?.message;
      throw new ApiError(`${what} failed: ${response.status}${typeof message === 'string' ? ` ${message}` : ''}`, response.status, parsed);
    }
    return parsed;
  } catch (error) {
    throw error instanceof ApiError ? error : new ApiError(`${what}: ${describeFetchError(error, timeout)}`, 0);
  }
}

function describeFetchError(error: unknown, timeout: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${timeout} ms`;
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused (is the backend running?)';
  return error instanceof Error ? (cause?.code ?? error.message) : String(error);
}

/** A health report: a JSON object with a string `status` (`{"status":"unhealthy",…}`), as lifeline's health() answers. */
function isHealthReport(body: unknown): body is { status: string; checks?: unknown } {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && typeof (body as { status?: unknown }).status === 'string';
}

const PASSING = new Set(['pass', 'warn', 'ok', 'up', 'healthy', 'degraded']);

/** `503 unhealthy: database, cache`: the status and the checks that fail, as the report names them. */
function describeReport(status: number, report: { status: string; checks?: unknown }): string {
  const failing: string[] = [];
  if (typeof report.checks === 'object' && report.checks !== null) {
    for (const [name, check] of Object.entries(report.checks)) {
      // lifeline's format holds one object per check, the IETF draft an array per component:measurement.
      const results: unknown[] = Array.isArray(check) ? check : [check];
      const fails = results.some((r) => {
        const s = (r as { status?: unknown } | null)?.status;
        return typeof s === 'string' && !PASSING.has(s);
      });
      if (fails) failing.push(name.split(':')[0]!);
    }
  }
  const names = [...new Set(failing)];
  return `${status} ${report.status}${names.length > 0 ? `: ${names.join(', ')}` : ''}`;
}
