/** Messages between the primary and its workers over the cluster IPC channel. */
import type { SharedSnapshot } from '../health/registry.js';

export interface WorkerStats {
  requests: number;
  inFlight: number;
  status: 'active' | 'degraded' | 'draining';
}

export type WorkerMessage =
  | { lifeline: 'ready' }
  | ({ lifeline: 'stats' } & WorkerStats)
  | { lifeline: 'cluster-info?'; id: number }
  | { lifeline: 'health-claim?'; id: number; maxAge: number }
  | { lifeline: 'health-snapshot'; snapshot: SharedSnapshot };

export interface WorkerView {
  slot: number;
  pid: number;
  uptime: number;
  requests: number;
  in_flight: number;
  status: string;
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
  | { lifeline: 'health-snapshot'; snapshot: SharedSnapshot };

export function isLifelineMessage<T extends { lifeline: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { lifeline?: unknown }).lifeline === 'string';
}
