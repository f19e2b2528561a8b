import type { LifelineLogger } from '../logging/logger.js';
import type { ClusterInfo } from './messages.js';
import { monotonicUsec, openNotifier, watchdogInterval, type SystemdNotifier } from './systemd-notify.js';

/** Workers report every second: a watchdog window shorter than two reports would miss live ones. */
const REPORT_SLACK = 2000;
const STATUS_EVERY = 1000;

export interface ClusterNotify {
  ready(): void;
  reloading(): void;
  /** The reload ended (done or failed: the old workers serve either way). */
  reloaded(): void;
  stopping(): void;
}

export interface NotifySource {
  info(): ClusterInfo;
  /** Live workers, and how many of them reported (or started) within the last `window` ms. */
  answering(window: number): { live: number; answering: number };
}

function statusLine(info: ClusterInfo, wanted: number): string {
  const rps = info.workers.reduce((sum, w) => sum + (w.rps ?? 0), 0);
  return `STATUS=${info.workers.length}/${wanted} workers, ${rps.toFixed(1)} req/s, ${info.restarts} restarts`;
}

/**
 * The cluster's side of Type=notify: READY=1 once every worker is ready, RELOADING=1 …
 * READY=1 around a reload, STOPPING=1, a STATUS= line a second, and WATCHDOG=1 at half
 * WATCHDOG_USEC only while every live worker answers (a hung worker, or all of them
 * stopped, lets systemd restart the service). Undefined when not under Type=notify.
 */
export function notifySystemd(source: NotifySource, wanted: number, log: LifelineLogger): ClusterNotify | undefined {
  const opened = openNotifier();
  if (opened === undefined) return undefined;
  if ('unavailable' in opened) {
    log.warn(
      `NOTIFY_SOCKET is set but systemd cannot be notified (${opened.unavailable}): no READY=1, RELOADING=1, STATUS or WATCHDOG=1 (systemd times the start out under Type=notify)`,
    );
    return undefined;
  }
  const notifier: SystemdNotifier = opened;
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, task: () => void) => {
    const timer = setInterval(task, ms);
    timer.unref();
    timers.push(timer);
  };
  const interval = watchdogInterval();
  if (interval !== undefined) {
    const window = Math.max(interval, REPORT_SLACK);
    every(interval, () => {
      const { live, answering } = source.answering(window);
      if (live > 0 && answering === live) notifier.send('WATCHDOG=1');
    });
    log.info(`systemd watchdog: WATCHDOG=1 every ${interval} ms while the workers answer`);
  }
  let stopped = false;
  let reporting = false;
  return {
    ready() {
      // MAINPID: when Node could not exec (Node < 22.15), this process is perl's child, not the one systemd started.
      notifier.send('READY=1', `MAINPID=${process.pid}`, statusLine(source.info(), wanted));
      if (reporting) return;
      reporting = true;
      every(STATUS_EVERY, () => stopped || notifier.send(statusLine(source.info(), wanted)));
    },
    reloading() {
      notifier.send('RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`, 'STATUS=reloading: replacing the workers one at a time');
    },
    reloaded() {
      notifier.send('READY=1', statusLine(source.info(), wanted));
    },
    stopping() {
      stopped = true;
      notifier.send('STOPPING=1', 'STATUS=stopping: draining the workers');
    },
  };
}
