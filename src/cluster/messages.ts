/** Messages between the primary and its workers over the cluster IPC channel. */

export interface WorkerStats {
  requests: number;
  inFlight: number;
  status: 'active' | 'degraded' | 'draining';
}

export type WorkerMessage = { lifeline: 'ready' } | ({ lifeline: 'stats' } & WorkerStats) | { lifeline: 'cluster-info?'; id: number };

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

export type PrimaryMessage = { lifeline: 'shutdown' } | { lifeline: 'cluster-info'; id: number; info: ClusterInfo };

export function isLifelineMessage<T extends { lifeline: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { lifeline?: unknown }).lifeline === 'string';
}
