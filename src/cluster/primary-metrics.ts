import type { Worker } from 'node:cluster';
import { isCumulative, render, type MetricFamily, type ProcessMetrics, type Sample } from '../middleware/metrics/families.js';

const SCRAPE_ERRORS = 'lifeline_scrape_errors_total';

interface Collection {
  answers: Map<number, ProcessMetrics>;
  waiting: Set<number>;
  done: () => void;
}

function seriesKey(family: MetricFamily, sample: Sample): string {
  const labels = Object.keys(sample.labels)
    .sort()
    .map((k) => `${k}=${String(sample.labels[k])}`)
    .join(',');
  return `${sample.metricName ?? family.name}{${labels}}`;
}

/**
 * The primary's side of a cluster-wide scrape: asks every worker for its figures, waits
 * at most `timeout`, and merges them (counters and histograms summed, process metrics
 * kept per worker under a `worker` label). Counters never go backwards: a worker that
 * does not answer in time counts with the last figures it gave (and the scrape with
 * `lifeline_scrape_errors_total`), and a worker that died, was replaced by a respawn or a
 * reload leaves its last counts in a `retired` baseline that every later answer adds.
 */
export class ClusterScrapes {
  private readonly slotOf = new Map<number, number>();
  /** Each live worker's counter-like families from its last answer, labelled. */
  private readonly lastSeen = new Map<number, MetricFamily[]>();
  private readonly retired = new Map<string, { family: MetricFamily; samples: Map<string, Sample> }>();
  private readonly collections = new Map<number, Collection>();
  private errors = 0;
  private nextId = 0;

  constructor(private readonly send: (worker: Worker, message: { lifeline: 'metrics-collect'; id: number }) => boolean) {}

  track(worker: Worker, slot: number): void {
    this.slotOf.set(worker.id, slot);
  }

  /** A worker's answer to a collection (or, with no id, its last figures before a graceful exit). */
  received(worker: Worker, id: number | undefined, metrics: ProcessMetrics): void {
    const labelled = this.label(worker, metrics);
    this.lastSeen.set(worker.id, labelled.filter(isCumulative));
    if (id === undefined) return;
    const collection = this.collections.get(id);
    if (collection === undefined || !collection.waiting.delete(worker.id)) return;
    collection.answers.set(worker.id, metrics);
    if (collection.waiting.size === 0) collection.done();
  }

  /** The worker is gone: its last counts join the baseline, so the sums never drop. */
  exited(worker: Worker): void {
    for (const family of this.lastSeen.get(worker.id) ?? []) {
      let entry = this.retired.get(family.name);
      if (entry === undefined) this.retired.set(family.name, (entry = { family: { ...family, values: [] }, samples: new Map() }));
      for (const sample of family.values) {
        const key = seriesKey(family, sample);
        const kept = entry.samples.get(key);
        if (kept) kept.value += sample.value;
        else entry.samples.set(key, { ...sample });
      }
    }
    this.lastSeen.delete(worker.id);
    this.slotOf.delete(worker.id);
    for (const collection of this.collections.values()) {
      if (collection.waiting.delete(worker.id) && collection.waiting.size === 0) collection.done();
    }
  }

  /** One scrape of every worker, rendered; never fails for want of a worker. */
  async scrape(workers: readonly Worker[], openMetrics: boolean, timeout: number): Promise<string> {
    const id = ++this.nextId;
    const collection: Collection = { answers: new Map(), waiting: new Set(), done: () => undefined };
    const finished = new Promise<void>((resolve) => {
      collection.done = resolve;
    });
    this.collections.set(id, collection);
    for (const worker of workers) if (this.send(worker, { lifeline: 'metrics-collect', id })) collection.waiting.add(worker.id);
    let timer: NodeJS.Timeout | undefined;
    if (collection.waiting.size > 0) await Promise.race([finished, new Promise<void>((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
    this.collections.delete(id);

    const families: MetricFamily[] = [];
    for (const [workerId, metrics] of collection.answers) {
      const worker = workers.find((w) => w.id === workerId);
      if (worker) families.push(...this.label(worker, metrics));
    }
    // A worker that did not answer counts with its last counters; its gauges are left out.
    for (const workerId of collection.waiting) {
      this.errors += 1;
      families.push(...(this.lastSeen.get(workerId) ?? []));
    }
    for (const { family, samples } of this.retired.values()) families.push({ ...family, values: [...samples.values()] });
    families.push({
      name: SCRAPE_ERRORS,
      help: 'Scrapes answered without some worker’s current figures (it did not answer in time).',
      type: 'counter',
      aggregator: 'sum',
      values: [{ labels: {}, value: this.errors }],
    });
    return render(families, openMetrics);
  }

  /** Process metrics get the worker's slot as a label (a slot, not a pid: a respawn adds no series). */
  private label(worker: Worker, metrics: ProcessMetrics): MetricFamily[] {
    const slot = String(this.slotOf.get(worker.id) ?? '?');
    const perWorker = metrics.process.map((family) => ({
      ...family,
      values: family.values.map((sample) => ({ ...sample, labels: { ...sample.labels, worker: slot } })),
    }));
    return [...metrics.app, ...perWorker];
  }
}
