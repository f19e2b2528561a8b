import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import {
  checkBoolean,
  checkDirectory,
  checkHost,
  checkInteger,
  checkOptionsObject,
  checkString,
  checkStringRecord,
  optionError,
} from '../options.js';
import { backgroundLoop, backoffDelay, sleep } from '../time.js';
import { ApiError, getHealth, requestJson, type HealthResult } from './http-client.js';

export { ApiError, type HealthResult } from './http-client.js';

export interface ServiceManagerOptions {
  /** Program to run: `node`, `python3`, `./bin/server`, … */
  command: string;
  args?: readonly string[];
  cwd?: string;
  /** Added to the parent's environment; PORT and HOST are set from the options. */
  env?: Readonly<Record<string, string>>;
  /** Default 8000. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Prefix of every apiCall() path: `apiCall('/notes')` requests `/api/notes`. `''` = none. Default `/api`. */
  apiBase?: string;
  /**
   * Answers 2xx when the backend is healthy, or a health report (JSON with a `status`) with
   * a non-2xx status when it runs but a dependency is down. Default `${apiBase}/health`.
   */
  healthPath?: string;
  /**
   * The developer runs the backend: start() and stop() neither spawn nor kill anything,
   * nothing is restarted; health events and apiCall() still work. Default false.
   */
  isDev?: boolean;
  /** Restarts after an unexpected exit or a hung backend before giving up. Default 3. */
  maxRestarts?: number;
  /** The same as `maxRestarts`, under the name the original `ServiceManager` used (give one of the two). */
  maxRestartAttempts?: number;
  /** ms before the first restart; doubles per attempt up to `maxRestartDelay`. Default 2000. */
  restartDelay?: number;
  /** Longest ms between two restarts. Default 30000. */
  maxRestartDelay?: number;
  /** ms between health checks while running. Default 10000. */
  healthCheckInterval?: number;
  /** Consecutive health checks without an answer (or without a health report) that trigger a restart. Default 3. */
  unhealthyThreshold?: number;
  /** ms the backend gets to answer its health endpoint after spawn. Default 30000. */
  readyTimeout?: number;
  /** The same as `readyTimeout`, under the name the original `ServiceManager` used (give one of the two). */
  startupTimeout?: number;
  /** ms between SIGTERM and SIGKILL on stop. Default 10000. */
  shutdownTimeout?: number;
  /** ms for one health check or apiCall. Default 5000. */
  requestTimeout?: number;
  /** A run this long (ms) resets the restart attempts. Default 60000. */
  stableAfter?: number;
}

export type ServiceState = 'stopped' | 'starting' | 'running' | 'stopping' | 'restarting' | 'failed';

export interface ServiceStatus {
  state: ServiceState;
  pid: number | undefined;
  url: string;
  healthy: boolean | undefined;
  restartAttempts: number;
  startedAt: number | undefined;
  uptime: number | undefined;
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** The `unhealthy` event: `running` false counts toward a restart after `unhealthyThreshold`. */
export interface UnhealthyEvent {
  pid: number | undefined;
  running: boolean;
  status: number | undefined;
  /** Consecutive checks that counted toward a restart (0 while the backend reports a dependency down). */
  failures: number;
  reason: string;
}

/** The `restarting` event: `manual` for restart(), then attempt and delay are 0. */
export interface RestartingEvent {
  attempt: number;
  delay: number;
  reason: string;
  manual: boolean;
}

const KNOWN = [
  'command',
  'args',
  'cwd',
  'env',
  'port',
  'host',
  'apiBase',
  'healthPath',
  'isDev',
  'maxRestarts',
  'maxRestartAttempts',
  'restartDelay',
  'maxRestartDelay',
  'healthCheckInterval',
  'unhealthyThreshold',
  'readyTimeout',
  'startupTimeout',
  'shutdownTimeout',
  'requestTimeout',
  'stableAfter',
] as const;

/** Names the original ServiceManager used, accepted so code ported from it runs unchanged. */
const ALIASES = [
  ['maxRestartAttempts', 'maxRestarts'],
  ['startupTimeout', 'readyTimeout'],
] as const;

/** Folds each alias into its option's name; both names at once is an error (which one would win is a guess). */
function resolveAliases(options: Readonly<ServiceManagerOptions>): Readonly<ServiceManagerOptions> {
  let resolved = options;
  for (const [alias, name] of ALIASES) {
    if (options[alias] === undefined) continue;
    if (options[name] !== undefined) {
      throw new TypeError(`ServiceManager: \`${alias}\` is another name for \`${name}\`; give one of them, not both`);
    }
    resolved = { ...resolved, [name]: options[alias] };
  }
  return resolved;
}

const PARENT_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
// Signal listeners that belong to ServiceManagers, told apart from the parent's own.
const managerListeners = new WeakSet<(...args: never[]) => unknown>();

/**
 * Supervises one backend process from Electron's main process or any Node parent:
 * spawns it, waits for its health endpoint, restarts it with exponential backoff after
 * an unexpected exit or repeated failed health checks, gives up after
 * `maxRestarts` (an `error` event), stops it with SIGTERM then SIGKILL, and
 * never leaves it behind when the parent exits. It knows nothing of Express: any
 * program with an HTTP health endpoint will do.
 *
 * Events: starting, started, stopping, stopped, restarting, healthy, unhealthy, error,
 * warning, info, stdout, stderr, process-exit, process-error, api-error. Listen to
 * `error`: like every EventEmitter, an unheard `error` throws.
 *
 * @example
 * const backend = new ServiceManager({ command: 'node', args: ['server.js'], port: 8000 });
 * backend.on('error', (e) => dialog.showErrorBox('Backend', e.message));
 * await backend.start();
 */
export class ServiceManager extends EventEmitter {
  private readonly options: Required<Omit<ServiceManagerOptions, 'cwd' | 'env' | (typeof ALIASES)[number][0]>> &
    Pick<ServiceManagerOptions, 'cwd' | 'env'>;
  private child: ChildProcess | undefined;
  private state: ServiceState = 'stopped';
  private healthy: boolean | undefined;
  private attempts = 0;
  private failures = 0;
  private startedAt: number | undefined;
  private lastExit: ServiceStatus['lastExit'];
  private healthLoop: { stop(): void } | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly killOnExit = () => this.child?.kill('SIGKILL');
  // A parent ended by a signal it does not handle never emits 'exit': pass the signal on
  // to the child, then let it end the parent as it would have.
  private readonly onParentSignal = (signal: NodeJS.Signals) => {
    // The parent handles it (and calls stop()) when it listens too.
    if (process.listeners(signal).some((listener) => !managerListeners.has(listener))) return;
    this.child?.kill(signal);
    this.unwatchParent();
    // The last manager to hear it ends the parent with the signal's default action.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };

  private watchParent(): void {
    this.unwatchParent();
    managerListeners.add(this.onParentSignal);
    process.on('exit', this.killOnExit);
    for (const signal of PARENT_SIGNALS) process.on(signal, this.onParentSignal);
  }

  private unwatchParent(): void {
    process.removeListener('exit', this.killOnExit);
    for (const signal of PARENT_SIGNALS) process.removeListener(signal, this.onParentSignal);
  }

  constructor(given: Readonly<ServiceManagerOptions>) {
    super();
    checkOptionsObject('ServiceManager', given, KNOWN);
    const options = resolveAliases(given);
    const ms = (name: keyof ServiceManagerOptions, fallback: number, min = 0) =>
      checkInteger('ServiceManager', name, options[name] ?? fallback, { min, unit: 'ms' });
    const args = options.args ?? [];
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
      throw optionError('ServiceManager', 'args', 'an array of strings', args);
    const apiBase = checkApiBase(options.apiBase ?? '/api');
    this.options = {
      command: checkString('ServiceManager', 'command', options.command),
      args: [...args],
      cwd: options.cwd === undefined ? undefined : checkDirectory('ServiceManager', 'cwd', options.cwd),
      env: options.env === undefined ? undefined : checkStringRecord('ServiceManager', 'env', options.env),
      port: checkInteger('ServiceManager', 'port', options.port ?? 8000, { min: 1, max: 65535 }),
      host: checkHost('ServiceManager', 'host', options.host ?? '127.0.0.1'),
      apiBase,
      healthPath: checkString('ServiceManager', 'healthPath', options.healthPath ?? `${apiBase}/health`),
      isDev: checkBoolean('ServiceManager', 'isDev', options.isDev ?? false),
      maxRestarts: checkInteger('ServiceManager', 'maxRestarts', options.maxRestarts ?? 3, { min: 0 }),
      restartDelay: ms('restartDelay', 2000),
      maxRestartDelay: ms('maxRestartDelay', 30_000),
      healthCheckInterval: ms('healthCheckInterval', 10_000, 10),
      unhealthyThreshold: checkInteger('ServiceManager', 'unhealthyThreshold', options.unhealthyThreshold ?? 3, { min: 1 }),
      readyTimeout: ms('readyTimeout', 30_000, 1),
      shutdownTimeout: ms('shutdownTimeout', 10_000),
      requestTimeout: ms('requestTimeout', 5000, 1),
      stableAfter: ms('stableAfter', 60_000),
    };
    if (!this.options.healthPath.startsWith('/'))
      throw optionError('ServiceManager', 'healthPath', "a path starting with '/'", options.healthPath);
  }

  get url(): string {
    const { host, port } = this.options;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  getStatus(): ServiceStatus {
    return {
      state: this.state,
      pid: this.child?.pid,
      url: this.url,
      healthy: this.healthy,
      restartAttempts: this.attempts,
      startedAt: this.startedAt,
      uptime: this.startedAt === undefined ? undefined : (Date.now() - this.startedAt) / 1000,
      lastExit: this.lastExit,
    };
  }

  /**
   * Spawns the backend and resolves once its health endpoint answers: 2xx, or a health
   * report while a dependency is down (then `unhealthy` follows `started`); rejects after
   * `readyTimeout`. With `isDev`, spawns nothing and resolves at once.
   */
  async start(): Promise<void> {
    if (this.state === 'running' || this.state === 'starting') throw new Error(`ServiceManager: already ${this.state}`);
    clearTimeout(this.restartTimer);
    this.attempts = this.state === 'restarting' ? this.attempts : 0;
    if (this.options.isDev) {
      // The developer's backend may start after the app (or be down): report, never wait.
      this.state = 'running';
      this.healthy = undefined;
      this.failures = 0;
      this.emit('started', { pid: undefined, url: this.url });
      this.emit('info', `isDev: no process started, expecting the backend at ${this.url}`);
      this.startHealthLoop(0);
      return;
    }
    await this.launch();
  }

  /** SIGTERM, then SIGKILL after `shutdownTimeout`; resolves once the process is gone. With `isDev`, kills nothing. */
  async stop(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.stopHealthLoop();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.setStopped();
      return;
    }
    this.state = 'stopping';
    this.emit('stopping', { pid: child.pid });
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.emit('warning', `backend pid ${child.pid} ignored SIGTERM for ${this.options.shutdownTimeout} ms: sending SIGKILL`);
      child.kill('SIGKILL');
    }, this.options.shutdownTimeout);
    await exited;
    clearTimeout(timer);
    this.setStopped();
  }

  /** stop() then start(), announced by a `restarting` event with `manual: true`. */
  async restart(): Promise<void> {
    const event: RestartingEvent = { attempt: 0, delay: 0, reason: 'restart() called', manual: true };
    this.emit('restarting', event);
    await this.stop();
    await this.start();
  }

  /** One GET of the health endpoint, bounded by `requestTimeout`. */
  healthCheck(): Promise<HealthResult> {
    return getHealth(this.url + this.options.healthPath, this.options.requestTimeout);
  }

  /**
   * Calls the backend's API: JSON in, JSON out, bounded by `requestTimeout`. `path` is
   * relative to `apiBase` (`/notes` → `/api/notes`) and cannot leave it (`/../admin` is a
   * TypeError), so a path that comes from a renderer reaches the API only. Rejects with
   * an ApiError (and emits `api-error`) on a non-2xx answer, a timeout or no connection.
   */
  async apiCall(path: string, method = 'GET', body?: unknown): Promise<unknown> {
    if (typeof path !== 'string' || !path.startsWith('/')) throw optionError('apiCall', 'path', "a path starting with '/'", path);
    const { apiBase } = this.options;
    const url = new URL(this.url + apiBase + path);
    // The URL parser has resolved `..` and `%2e%2e`: what is left must still be under apiBase.
    if (apiBase !== '' && url.pathname !== apiBase && !url.pathname.startsWith(`${apiBase}/`))
      throw optionError('apiCall', 'path', `a path inside \`apiBase\` '${apiBase}'`, path);
    try {
      return await requestJson(url, method, body, this.options.requestTimeout);
    } catch (error) {
      const apiError = error as ApiError;
      this.emit('api-error', apiError);
      throw apiError;
    }
  }

  private async launch(): Promise<void> {
    const { command, args, cwd, env, port, host, readyTimeout } = this.options;
    this.state = this.state === 'restarting' ? 'restarting' : 'starting';
    this.healthy = undefined;
    this.failures = 0;
    this.emit('starting', { command, args, port });
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env, PORT: String(port), HOST: host },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.startedAt = Date.now();
    this.watchParent();
    child.stdout?.on('data', (chunk: Buffer) => this.emit('stdout', chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.emit('stderr', chunk.toString()));
    let spawnError: Error | undefined;
    child.on('error', (error) => {
      spawnError = error;
      this.emit('process-error', error);
    });
    child.on('exit', (code, signal) => this.onExit(child, code, signal));

    const deadline = Date.now() + readyTimeout;
    while (Date.now() < deadline) {
      if (child !== this.child || spawnError || child.exitCode !== null || child.signalCode !== null) break;
      const result = await this.healthCheck();
      if (child !== this.child) break;
      if (result.running) {
        const after = Date.now() - (this.startedAt ?? Date.now());
        this.state = 'running';
        this.emit('started', { pid: child.pid, url: this.url });
        if (result.healthy) {
          this.emit('info', `backend pid ${child.pid} is healthy at ${this.url} after ${after} ms`);
        } else {
          // It runs and says what is down: a restart would not bring a database back.
          this.emit('info', `backend pid ${child.pid} answers at ${this.url} after ${after} ms, but is unhealthy (${result.reason})`);
        }
        this.record(result);
        this.startHealthLoop();
        return;
      }
      await sleep(Math.min(250, Math.max(10, deadline - Date.now())));
    }
    const why = spawnError
      ? `could not start ${command}: ${spawnError.message}`
      : child.exitCode !== null || child.signalCode !== null
        ? `${command} exited (${child.signalCode ?? `code ${child.exitCode}`}) before it was healthy`
        : `${command} was not healthy within ${readyTimeout} ms`;
    if (child.exitCode === null && child.signalCode === null && !spawnError) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    // stop() may have been called while we waited.
    const now = this.state as ServiceState;
    if (now !== 'stopping' && now !== 'stopped') this.scheduleRestart(why);
    throw new Error(`ServiceManager: ${why}`);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.unwatchParent();
    this.lastExit = { code, signal };
    this.emit('process-exit', { pid: child.pid, code, signal });
    if (this.state === 'running') {
      this.stopHealthLoop();
      this.scheduleRestart(`backend exited unexpectedly (${signal ?? `code ${code}`})`);
    }
  }

  private scheduleRestart(reason: string): void {
    this.stopHealthLoop();
    if (this.attempts > 0 && this.startedAt !== undefined && Date.now() - this.startedAt >= this.options.stableAfter) {
      this.emit('info', `backend ran ${Math.round((Date.now() - this.startedAt) / 1000)} s: restart attempts reset`);
      this.attempts = 0;
    }
    if (this.attempts >= this.options.maxRestarts) {
      this.state = 'failed';
      this.emit('error', new Error(`backend failed and was restarted ${this.attempts} times: giving up (${reason})`));
      return;
    }
    this.attempts += 1;
    const delay = backoffDelay(this.attempts - 1, { base: this.options.restartDelay, cap: this.options.maxRestartDelay });
    this.state = 'restarting';
    const event: RestartingEvent = { attempt: this.attempts, delay, reason, manual: false };
    this.emit('restarting', event);
    this.restartTimer = setTimeout(() => {
      if (this.state !== 'restarting') return;
      void (async () => {
        const old = this.child;
        if (old && old.exitCode === null && old.signalCode === null) {
          const exited = once(old, 'exit');
          old.kill('SIGKILL');
          await exited;
        }
        // A failed launch schedules the next attempt itself (or gives up with 'error').
        await this.launch().catch((error: Error) => {
          if (this.state !== 'failed') this.emit('warning', error.message);
        });
      })();
    }, delay);
  }

  /** Health checks one after the other (a hung backend must not pile them up), `healthCheckInterval` apart. */
  private startHealthLoop(firstDelay = this.options.healthCheckInterval): void {
    this.stopHealthLoop();
    const loop = backgroundLoop(
      this.options.healthCheckInterval,
      async () => {
        const result = await this.healthCheck();
        // A stop, restart or newer loop while the check was under way: its answer is stale.
        if (this.state !== 'running' || this.healthLoop !== loop) return;
        this.record(result);
      },
      undefined,
      firstDelay,
    );
    this.healthLoop = loop;
  }

  /**
   * Emits healthy/unhealthy for one check. Only checks that show the process gone or
   * hung count toward a restart: a backend that reports a dependency down keeps running.
   */
  private record(result: HealthResult): void {
    const pid = this.child?.pid;
    if (result.healthy) {
      this.failures = 0;
      if (this.healthy !== true) this.emit('healthy', { pid });
      this.healthy = true;
      return;
    }
    this.failures = result.running ? 0 : this.failures + 1;
    this.healthy = false;
    const event: UnhealthyEvent = {
      pid,
      running: result.running,
      status: result.status,
      failures: this.failures,
      reason: result.reason ?? 'unhealthy',
    };
    this.emit('unhealthy', event);
    // isDev: the developer's backend is not ours to restart.
    if (this.failures >= this.options.unhealthyThreshold && !this.options.isDev)
      this.scheduleRestart(`${this.failures} failed health checks in a row (last: ${event.reason})`);
  }

  private stopHealthLoop(): void {
    this.healthLoop?.stop();
    this.healthLoop = undefined;
  }

  private setStopped(): void {
    this.unwatchParent();
    const was = this.state;
    this.state = 'stopped';
    this.healthy = undefined;
    if (was !== 'stopped') this.emit('stopped', { lastExit: this.lastExit });
  }
}

/** '' or `/segment…`, without a trailing slash (one is dropped); no query, fragment or `..`. */
function checkApiBase(value: unknown): string {
  const expected = "'' or a path starting with '/'";
  if (typeof value !== 'string') throw optionError('ServiceManager', 'apiBase', expected, value);
  const base = value.endsWith('/') ? value.slice(0, -1) : value;
  if (base === '') return base;
  if (
    !base.startsWith('/') ||
    /[?#\s]/.test(base) ||
    base.split('/').some((part, i) => i > 0 && (part === '' || part === '.' || part === '..'))
  )
    throw optionError('ServiceManager', 'apiBase', expected, value);
  return base;
}
