import { topLevelLayers } from '../lifecycle/find-health.js';
import type { MetricsMiddleware } from '../middleware/metrics/index.js';
import type { PrimaryMessage, WorkerMessage } from './messages.js';

// Beyond the primary's own wait for the workers: the time for it to merge and send.
const PRIMARY_MARGIN = 1000;

function isMetrics(value: unknown): value is MetricsMiddleware {
  const m = value as Partial<MetricsMiddleware> | undefined;
  return typeof value === 'function' && typeof m?.collect === 'function' && typeof m.shareScrapes === 'function';
}

/** The metrics() of an Express app, found among its top-level middlewares (directly, or as a lifeline()'s part). */
export function findMetrics(app: unknown): MetricsMiddleware | undefined {
  for (const layer of topLevelLayers(app)) {
    const handle = layer.handle;
    if (isMetrics(handle)) return handle;
    const part = (handle as { metrics?: unknown } | undefined)?.metrics;
    if (isMetrics(part)) return part;
  }
  return undefined;
}

/**
 * A worker's side of the cluster-wide scrape: a scrape it receives goes to the primary,
 * which collects every worker's figures (this one's too, through `onMessage`); when the
 * primary does not answer in time, the worker answers with its own. Returns the handler
 * for the primary's messages and the hook that hands the primary this worker's last
 * figures before a graceful exit.
 */
export function shareMetrics(
  metrics: MetricsMiddleware,
  send: (message: WorkerMessage) => Promise<void>,
): { onMessage(message: PrimaryMessage): void; beforeExit(): Promise<void> } {
  let nextId = 0;
  const waiting = new Map<number, (text: string) => void>();
  metrics.shareScrapes({
    gather: (openMetrics) =>
      new Promise((resolve) => {
        const id = ++nextId;
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve(undefined);
        }, metrics.scrapeTimeout + PRIMARY_MARGIN);
        waiting.set(id, (text) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(text);
        });
        void send({ lifeline: 'metrics?', id, openMetrics, timeout: metrics.scrapeTimeout });
      }),
  });
  return {
    onMessage(message) {
      if (message.lifeline === 'metrics') waiting.get(message.id)?.(message.text);
      else if (message.lifeline === 'metrics-collect')
        void metrics.collect().then((m) => send({ lifeline: 'metrics-data', id: message.id, metrics: m }));
    },
    // After the drain: the counts are final, and the primary keeps them as this worker's last.
    beforeExit: async () => send({ lifeline: 'metrics-data', metrics: await metrics.collect() }),
  };
}
