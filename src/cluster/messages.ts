/** Messages between the primary and its workers over the cluster IPC channel. */
import type { SharedSnapshot } from '../health/registry.js';
import type { ProcessMetrics } from '../middleware/metrics/families.js';

export interface WorkerStats {
  requests: number;
  inFlight: number;
  status: 'active' | 'degraded' | 'draining';
  /** Requests per second since the previous report. */
  rps: number;
  /** p99 of the latest answers' durations in ms (a small ring of them); null before the first answer. */
  p99: number | null;
}

export type WorkerMessage =
  | { lifeline: 'ready' }
  | ({ lifeline: 'stats' } & WorkerStats)
  | { lifeline: 'cluster-info?'; id: number }
  | { lifeline: 'health-claim?'; id: number; maxAge: number }
  | { lifeline: 'health-snapshot'; snapshot: SharedSnapshot }
  // A scrape reached this worker: the primary answers with every worker's figures.
  | { lifeline: 'metrics?'; id: number; openMetrics: boolean; timeout: number }
  // This worker's figures for the primary's collection `id`; no id: its last ones, before a graceful exit.
  | { lifeline: 'metrics-data'; id?: number; metrics: ProcessMetrics };

export interface WorkerView {
  slot: number;
  pid: number;
  uptime: number;
  requests: number;
  in_flight: number;
  status: string;
  /** Times this slot's worker was respawned after dying. */
  restarts: number;
  rps: number;
  p99_ms: number | null;
}

export interface ClusterInfo {
  primary_pid: number;
  workers: WorkerView[];
  total_requests: number;
  restarts: number;
  stats_age_ms: number;
}

export type PrimaryMessage =
  | { lifeline: 'shutdown' }
  | { lifeline: 'cluster-info'; id: number; info: ClusterInfo }
  | { lifeline: 'health-claim'; id: number; run: boolean; retryIn: number }
  | { lifeline: 'health-snapshot'; snapshot: SharedSnapshot }
  | { lifeline: 'metrics'; id: number; text: string }
  | { lifeline: 'metrics-collect'; id: number };

export function isLifelineMessage<T extends { lifeline: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { lifeline?: unknown }).lifeline === 'string';
}
