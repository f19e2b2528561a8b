import type { MetricFamily, Sample } from './families.js';

/** OpenTelemetry's advice for `http.server.request.duration`, in seconds. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

// The methods OpenTelemetry knows; any other is `_OTHER`, so made-up methods add no series.
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'QUERY', 'TRACE']);

export function methodLabel(method: string | undefined): string {
  return method !== undefined && KNOWN_METHODS.has(method) ? method : '_OTHER';
}

class Series {
  readonly counts = new Float64Array(DURATION_BUCKETS.length);
  sum = 0;
  count = 0;
  constructor(
    readonly method: string,
    readonly route: string,
    readonly status: string,
  ) {}
}

/**
 * `http_server_request_duration_seconds`, kept by hand rather than with prom-client's
 * Histogram, whose `observe()` builds and hashes a label object on every call: here the
 * series of a request is found through three map lookups on values that already exist
 * (method, route template, status code), so recording allocates nothing once a series exists.
 */
export class RequestDurations {
  static readonly NAME = 'http_server_request_duration_seconds';
  private readonly byRoute = new Map<string, Map<string, Map<number, Series>>>();

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.byRoute.get(route);
    if (byMethod === undefined) this.byRoute.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (series === undefined) byStatus.set(status, (series = new Series(method, route, status === 0 ? '' : String(status))));
    series.sum += seconds;
    series.count += 1;
    const buckets = DURATION_BUCKETS;
    for (let i = 0; i < buckets.length; i++) {
      if (seconds <= (buckets[i] as number)) {
        series.counts[i] = (series.counts[i] as number) + 1;
        break;
      }
    }
  }

  /** Number of label sets: the figure a flood of scanners must not move. */
  get seriesCount(): number {
    let n = 0;
    for (const byMethod of this.byRoute.values()) for (const byStatus of byMethod.values()) n += byStatus.size;
    return n;
  }

  family(): MetricFamily {
    const values: Sample[] = [];
    const bucket = `${RequestDurations.NAME}_bucket`;
    for (const byMethod of this.byRoute.values()) {
      for (const byStatus of byMethod.values()) {
        for (const s of byStatus.values()) {
          const labels = { http_request_method: s.method, http_route: s.route, http_response_status_code: s.status };
          let cumulative = 0;
          for (let i = 0; i < DURATION_BUCKETS.length; i++) {
            cumulative += s.counts[i] as number;
            values.push({ labels: { ...labels, le: DURATION_BUCKETS[i] as number }, value: cumulative, metricName: bucket });
          }
          values.push({ labels: { ...labels, le: '+Inf' }, value: s.count, metricName: bucket });
          values.push({ labels, value: s.sum, metricName: `${RequestDurations.NAME}_sum` });
          values.push({ labels, value: s.count, metricName: `${RequestDurations.NAME}_count` });
        }
      }
    }
    return {
      name: RequestDurations.NAME,
      help: 'Duration of HTTP server requests, by method, route template and status code.',
      type: 'histogram',
      aggregator: 'sum',
      values,
    };
  }
}
