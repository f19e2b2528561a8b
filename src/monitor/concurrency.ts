import { totalmem } from 'node:os';
import { defaultMaxConnections } from '../lifecycle/server-limits.js';
import { descriptorLimit } from '../system/machine.js';

/** The most checks at once the option accepts. */
export const MAX_CONCURRENCY = 100_000;

/**
 * What a check waiting on its target holds, bytes: a socket, and for https a TLS
 * connection's buffers (OpenSSL's, outside the JavaScript heap), with room to spare.
 */
export const BYTES_PER_CHECK = 64 * 1024;

/**
 * The default bound on checks at once, from what a check in flight costs rather
 * than from a fixed count: a check waiting on a target that never answers holds
 * one socket and a few KB, so hundreds of blackholed targets must not keep the
 * healthy ones waiting. The sockets the API server may hold (`defaultMaxConnections`:
 * the descriptor limit less what the process keeps for its database, log and
 * files) are split half for the API's clients, half for the checks; and the checks
 * may use at most a quarter of the memory (`BYTES_PER_CHECK` each).
 *
 * @param fdLimit the soft `ulimit -n` (undefined: unknown, 1024 assumed)
 * @param memoryBytes the memory the process may use (RAM, or its cgroup's limit)
 */
export function defaultConcurrency(fdLimit: number | undefined, memoryBytes: number): number {
  const byDescriptors = Math.floor(defaultMaxConnections(fdLimit) / 2);
  const byMemory = Math.floor(memoryBytes / 4 / BYTES_PER_CHECK);
  return Math.max(1, Math.min(byDescriptors, byMemory, MAX_CONCURRENCY));
}

/** The memory this process may use: the cgroup's limit when there is one below the RAM. */
export function memoryLimit(): number {
  const ram = totalmem();
  // Node 20 answers 0 (or undefined) without a limit, and a huge number for an unlimited cgroup.
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return constrained !== undefined && constrained > 0 && constrained < ram ? constrained : ram;
}

/** The default for this process: its descriptor limit and memory. */
export function processConcurrency(): number {
  return defaultConcurrency(descriptorLimit(), memoryLimit());
}
