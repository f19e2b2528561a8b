import { connect } from 'node:net';
import { ConfigError } from '../errors.js';
import type { LifelineLogger } from '../logging/logger.js';
import { optionError } from '../options.js';
import type { CheckOutcome } from './checks/types.js';

/** Where the monitor looks to tell "the server is down" from "the monitor lost the network". */
export interface CanaryTarget {
  host: string;
  port: number;
}

/** The state the watch reports on each change: lost (with when), or back (with how long it was lost). */
export type NetworkChange = { reachable: false; since: number } | { reachable: true; since: number; lostFor: number };

export interface NetworkWatchOptions {
  canary: CanaryTarget;
  /** A probe waits this long for the canary's TCP handshake, ms. */
  timeout: number;
  /** A probe's answer holds this long for the checks that fail after it, ms; while lost, the canary is probed this often. */
  interval: number;
  logger: LifelineLogger;
  /** Called when the network is lost and when it is back (never twice in a row with the same state). */
  onChange: (change: NetworkChange) => void;
}

/** The message an `unknown` result carries. */
export const UNKNOWN_MESSAGE = 'not checked: the monitor cannot reach the network (its canary does not answer either)';

/**
 * `MONITOR_CANARY` / the `canary` option: `host:port` (or `[v6]:port`) of something that
 * answers TCP whenever the monitor's own network works: the default gateway, a DNS
 * resolver, a reliable site. Checked here, at setup.
 */
export function parseCanary(value: unknown, source: 'option' | 'env'): CanaryTarget {
  const fail = () =>
    source === 'env'
      ? new ConfigError('MONITOR_CANARY', `MONITOR_CANARY must be host:port (e.g. 192.168.1.1:53), got "${String(value)}"`)
      : optionError('monitor', 'canary', 'a "host:port" string, e.g. "192.168.1.1:53"', value);
  if (typeof value !== 'string') throw fail();
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535) throw fail();
  return { host: (m[1] ?? m[2])!, port };
}

/** Whether a failed check failed before any answer: refused, reset, timed out, unreachable, not resolved. */
export function isConnectionLevel(outcome: CheckOutcome): boolean {
  return outcome.status !== 'success' && outcome.status !== 'unknown' && outcome.status_code === null;
}

/**
 * Tells a server's outage from the monitor's own: a check that fails before any
 * answer asks the canary (one probe at a time, its answer shared for `interval`); when
 * the canary does not answer either, the result is `unknown`, which moves no state and
 * counts no downtime. While the network is lost the canary is probed every `interval`,
 * so its return is seen even when no check fails.
 */
export class NetworkWatch {
  readonly #options: NetworkWatchOptions;
  #reachable = true;
  #lostAt = 0;
  #checkedAt = -Infinity;
  #probe: Promise<boolean> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: NetworkWatchOptions) {
    this.#options = options;
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  /** The outcome as it should be recorded: `unknown` when the failure is the monitor's own network's. */
  async judge(outcome: CheckOutcome): Promise<CheckOutcome> {
    if (!isConnectionLevel(outcome)) return outcome;
    const reachable = Date.now() - this.#checkedAt < this.#options.interval ? this.#reachable : await this.probe();
    if (reachable) return outcome;
    return {
      status: 'unknown',
      response_time: null,
      status_code: null,
      error_message: `${UNKNOWN_MESSAGE}; the check said: ${outcome.error_message ?? outcome.status}`,
    };
  }

  /** Probes the canary now (a probe in flight is shared) and follows the answer. */
  probe(): Promise<boolean> {
    this.#probe ??= this.#connect().then((ok) => {
      this.#probe = undefined;
      this.#checkedAt = Date.now();
      this.#follow(ok);
      return ok;
    });
    return this.#probe;
  }

  #connect(): Promise<boolean> {
    const { host, port } = this.#options.canary;
    return new Promise((resolve) => {
      const socket = connect({ host, port });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(this.#options.timeout, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  }

  #follow(ok: boolean): void {
    if (ok === this.#reachable || this.#closed) return;
    const now = Date.now();
    this.#reachable = ok;
    const { host, port } = this.#options.canary;
    if (!ok) {
      this.#lostAt = now;
      this.#options.logger.error(
        'monitor: the monitor cannot reach the network: its canary does not answer; results are unknown until it does',
        {
          canary: `${host}:${port}`,
        },
      );
      this.#options.onChange({ reachable: false, since: now });
      this.#arm();
    } else {
      clearTimeout(this.#timer);
      this.#options.logger.warn('monitor: the network is back: the canary answers again', {
        canary: `${host}:${port}`,
        lost_ms: now - this.#lostAt,
      });
      this.#options.onChange({ reachable: true, since: this.#lostAt, lostFor: now - this.#lostAt });
    }
  }

  #arm(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      void this.probe().then((ok) => {
        if (!ok) this.#arm();
      });
    }, this.#options.interval);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}

/** The `canary` option: `"host:port"`, or with its probe's timing. */
export interface CanaryOptions {
  /** `host:port` that answers TCP whenever the monitor's network works (a gateway, a resolver). */
  target: string;
  /** A probe's answer holds this long, and while lost the canary is probed this often, ms. Default 5000. */
  interval?: number;
  /** A probe waits this long for the handshake, ms. Default 2000. */
  timeout?: number;
}

export interface CanarySettings {
  canary: CanaryTarget;
  interval: number;
  timeout: number;
}

/** The canary from the option, else `MONITOR_CANARY`; undefined: none (every failure is the server's). */
export function canarySettings(
  option: string | CanaryOptions | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): CanarySettings | undefined {
  if (option === undefined)
    return env.MONITOR_CANARY ? { canary: parseCanary(env.MONITOR_CANARY, 'env'), interval: 5000, timeout: 2000 } : undefined;
  if (typeof option === 'string') return { canary: parseCanary(option, 'option'), interval: 5000, timeout: 2000 };
  if (option === null || typeof option !== 'object')
    throw optionError('monitor', 'canary', 'a "host:port" string or { target, interval?, timeout? }', option);
  const interval = option.interval ?? 5000;
  const timeout = option.timeout ?? 2000;
  for (const [name, value] of [
    ['canary.interval', interval],
    ['canary.timeout', timeout],
  ] as const) {
    if (!Number.isInteger(value) || value < 10 || value > 600_000) throw optionError('monitor', name, 'an integer of ms, 10-600000', value);
  }
  return { canary: parseCanary(option.target, 'option'), interval, timeout };
}
