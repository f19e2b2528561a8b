import { promClient } from './prom-client.js';

/** One sample of a metric family, as prom-client's `getMetricsAsJSON()` gives it. */
export interface Sample {
  labels: Record<string, string | number>;
  value: number;
  /** The series name when it differs from the family's (`_bucket`, `_sum`, `_count` of a histogram). */
  metricName?: string;
}

/** A metric family in prom-client's JSON shape: what workers send to the primary over IPC. */
export interface MetricFamily {
  name: string;
  help: string;
  type: string;
  /** How the primary merges the family across workers: sum, min, max, average, first, omit. */
  aggregator: string;
  values: Sample[];
}

/** A process's figures, split so the primary can label the per-process ones by worker. */
export interface ProcessMetrics {
  /** Request figures and checks: summed (or min/max) across workers. */
  app: MetricFamily[];
  /** prom-client's default process metrics (CPU, memory, event loop, GC, descriptors): per worker. */
  process: MetricFamily[];
}

export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Counter-like families: their values only grow, so a dead worker's last values are kept. */
export function isCumulative(family: MetricFamily): boolean {
  return family.type === 'counter' || family.type === 'histogram';
}

/**
 * Renders families in the text format or OpenMetrics, merging the ones that share a
 * name with their aggregator (for one process, a merge of one). Going through a fresh
 * registry each time also keeps prom-client's OpenMetrics rendering, which renames
 * counters in place, away from the live metrics.
 */
export async function render(families: readonly MetricFamily[], openMetrics: boolean): Promise<string> {
  const prom = promClient();
  // OpenMetrics names a counter family without `_total` and its sample with it; prom-client
  // adds the suffix to the sample but, for a merged registry, leaves it on the family too
  // (`x_total_total`), so the family's name is given without it.
  const input = openMetrics
    ? families.map((f) => (f.type === 'counter' && f.name.endsWith('_total') ? { ...f, name: f.name.slice(0, -6) } : f))
    : families;
  const registry = prom.AggregatorRegistry.aggregate([input]);
  // The content type decides the format; aggregate() types it as the text one.
  if (openMetrics) (registry as { setContentType(type: string): void }).setContentType(prom.Registry.OPENMETRICS_CONTENT_TYPE);
  return registry.metrics();
}

/** `omit` drops a family from a merge (process_start_time_seconds): per process, the first value is the right one. */
export function keepOmitted(families: MetricFamily[]): MetricFamily[] {
  for (const family of families) if (family.aggregator === 'omit') family.aggregator = 'first';
  return families;
}
