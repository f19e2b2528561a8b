// @ts-check
// The benchmarks put the measured process and the load on different cores so that they do not
// compete for one; on a machine without taskset (or with one core) everything shares the cores.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return os.cpus().length > 1;
  } catch {
    return false;
  }
})();

/**
 * Pins a process to a list of cores (taskset's syntax: '0', '1', '0-1'); does nothing without taskset.
 * @param {number | undefined} pid
 * @param {string} cpus
 */
export function pin(pid, cpus) {
  if (hasTaskset && pid) execFileSync('taskset', ['-cp', cpus, String(pid)], { stdio: 'ignore' });
}
