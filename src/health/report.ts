import type { Activity, HealthStatus } from '../activity.js';
import { epochSeconds, round3 } from '../time.js';
import type { HealthSnapshot } from './registry.js';
import type { CheckOutcome } from './types.js';

/** Facts about the server that do not change while it runs. */
export interface ServerFacts {
  node_version: string;
  express_version: string | null;
  pid: number;
  hostname: string;
  environment: string;
  debug_mode: boolean;
}

export interface ReportContext {
  facts: ServerFacts;
  /** `"service":…,"version":…,` for the detailed report, computed once at setup. */
  identity: ReportIdentity;
  /** The report's `timestamp` value, now, in the form the app chose. */
  timestamp: () => string;
  activity: Activity;
  /** Component types of the checks, for the health+json format. */
  componentTypes: ReadonlyMap<string, string>;
}

interface Fragments {
  system: string;
  checks: string;
  flags: string;
  minimalChecks: string;
}

// A snapshot is read by every health request until the next refresh, so the parts
// of the body that only change with the snapshot are serialised once per snapshot.
const fragmentCache = new WeakMap<HealthSnapshot, Fragments>();

function flag(checks: Readonly<Record<string, CheckOutcome>>, name: string): boolean | null {
  const outcome = checks[name];
  return outcome === undefined ? null : outcome.status !== 'fail';
}

function fragments(snapshot: HealthSnapshot): Fragments {
  let f = fragmentCache.get(snapshot);
  if (!f) {
    const system = snapshot.warnings.length > 0 ? { ...snapshot.system, warnings: snapshot.warnings } : snapshot.system;
    const minimal: Record<string, { status: string }> = {};
    for (const [name, outcome] of Object.entries(snapshot.checks)) minimal[name] = { status: outcome.status };
    f = {
      system: JSON.stringify(system),
      checks: JSON.stringify(snapshot.checks),
      flags: `"database_connected":${JSON.stringify(flag(snapshot.checks, 'database'))},"static_files_accessible":${JSON.stringify(flag(snapshot.checks, 'static_files'))}`,
      minimalChecks: JSON.stringify(minimal),
    };
    fragmentCache.set(snapshot, f);
  }
  return f;
}

const serverFactsCache = new WeakMap<ServerFacts, string>();
function factsJson(facts: ServerFacts): string {
  let json = serverFactsCache.get(facts);
  if (json === undefined) {
    const { debug_mode: _debug, ...server } = facts;
    json = JSON.stringify(server).slice(1, -1);
    serverFactsCache.set(facts, json);
  }
  return json;
}

/** The app's name and version as JSON members, serialised once at setup. */
export interface ReportIdentity {
  /** `"service":…,"version":…,` (details shown). */
  full: string;
  /** `"service":…,` (anonymous callers in production: no version). */
  minimal: string;
}

export function reportIdentity(service: string | null, version: string | null): ReportIdentity {
  const name = `"service":${JSON.stringify(service)},`;
  return { full: `${name}"version":${JSON.stringify(version)},`, minimal: name };
}

/** The `timestamp` member's value: epoch seconds (float) or ISO 8601 UTC. */
export function timestampFormatter(form: 'epoch' | 'iso'): () => string {
  return form === 'iso' ? () => `"${new Date().toISOString()}"` : () => String(epochSeconds());
}

/** `pending` before the first run of the checks has finished, else the snapshot's status. */
function reportStatus(snapshot: HealthSnapshot): string {
  return snapshot.pending ? 'pending' : snapshot.status;
}

/**
 * When the checks behind the answer ran and how old that is (answers are served from a
 * snapshot that may be up to `maxAge` old, or older while a hung check is refreshed).
 */
function snapshotAge(snapshot: HealthSnapshot): string {
  if (snapshot.pending) return `"message":"checks have not completed yet",`;
  return `"checked_at":${epochSeconds(snapshot.takenAt)},"snapshot_age_ms":${Math.max(0, Date.now() - snapshot.takenAt)},`;
}

/** The detailed report of the design (`application/json`). */
export function detailedReport(snapshot: HealthSnapshot, ctx: ReportContext): string {
  const f = fragments(snapshot);
  const a = ctx.activity;
  return (
    `{"status":"${reportStatus(snapshot)}",${ctx.identity.full}"timestamp":${ctx.timestamp()},${snapshotAge(snapshot)}` +
    `"server_info":{${factsJson(ctx.facts)},"uptime":${round3(process.uptime())}},` +
    `"system_info":${f.system},` +
    `"application_info":{"debug_mode":${ctx.facts.debug_mode},${f.flags},"request_count":${a.requestCount},"last_activity":${epochSeconds(a.lastActivity)}},` +
    `"checks":${f.checks}}`
  );
}

/** What anonymous callers see when details are gated: status, timestamp, each check's status. */
export function minimalReport(snapshot: HealthSnapshot, ctx: Pick<ReportContext, 'identity' | 'timestamp'>): string {
  return `{"status":"${reportStatus(snapshot)}",${ctx.identity.minimal}"timestamp":${ctx.timestamp()},"checks":${fragments(snapshot).minimalChecks}}`;
}

const IETF_STATUS: Record<HealthStatus, 'pass' | 'warn' | 'fail'> = { healthy: 'pass', degraded: 'warn', unhealthy: 'fail' };

/** The IETF draft "Health Check Response Format for HTTP APIs" (`application/health+json`). */
export function healthJsonReport(snapshot: HealthSnapshot, ctx: ReportContext, details: boolean): string {
  const time = new Date(snapshot.takenAt).toISOString();
  const checks: Record<string, Array<Record<string, unknown>>> = {};
  for (const [name, o] of Object.entries(snapshot.checks)) {
    const entry: Record<string, unknown> = { status: o.status };
    if (details) {
      entry.componentType = ctx.componentTypes.get(name) ?? 'component';
      entry.observedValue = o.duration_ms;
      entry.observedUnit = 'ms';
      entry.time = new Date(o.checked_at * 1000).toISOString();
      if (o.error ?? o.message) entry.output = o.error ?? o.message;
    }
    checks[`${name}:responseTime`] = [entry];
  }
  if (details) {
    const s = snapshot.system;
    // A figure warns when the registry reported its threshold crossed (warnings start with its name).
    const figure = (observedValue: number, observedUnit: string, warning?: string) => [
      {
        componentType: 'system',
        observedValue,
        observedUnit,
        status: warning !== undefined && snapshot.warnings.some((w) => w.startsWith(warning)) ? 'warn' : 'pass',
        time,
      },
    ];
    checks['memory:utilization'] = figure(s.memory_usage.percentage, 'percent', 'memory');
    checks['cpu:utilization'] = figure(s.cpu_usage, 'percent');
    checks['disk:utilization'] = figure(s.disk_usage.percentage, 'percent', 'disk');
    checks['eventloop:delay'] = figure(s.process.event_loop_delay_ms.p99, 'ms', 'event loop');
    checks['uptime'] = figure(round3(process.uptime()), 's');
  }
  const body: Record<string, unknown> = { status: IETF_STATUS[snapshot.status] };
  if (snapshot.pending) body.output = 'checks have not completed yet';
  if (details) {
    body.version = ctx.facts.express_version === null ? undefined : `express ${ctx.facts.express_version}`;
    body.serviceId = `${ctx.facts.hostname}:${ctx.facts.pid}`;
    body.releaseId = ctx.facts.environment;
  }
  body.checks = checks;
  return JSON.stringify(body);
}

/** `/api/ping`: constant work. */
export function pingReport(): string {
  return `{"status":"ok","message":"pong","timestamp":${epochSeconds()}}`;
}

/** `/api/health/live`: the process and its event loop answer. */
export function liveReport(): string {
  return `{"status":"alive","timestamp":${epochSeconds()},"uptime":${round3(process.uptime())}}`;
}

/** `"last_client_activity":…,"clients_last_interval":…`: the clients that POSTed a keep-alive within `clientWindow` ms. */
function clientsJson(activity: Activity, clientWindow: number): string {
  const last = activity.lastClientPing === undefined ? 'null' : String(epochSeconds(activity.lastClientPing));
  return `"last_client_activity":${last},"clients_last_interval":${activity.clients.countSince(Date.now() - clientWindow)}`;
}

/** `/api/status`: running or draining, and the app's counters. */
export function statusReport(activity: Activity, clientWindow: number): string {
  return `{"status":"${activity.draining ? 'draining' : 'running'}","uptime":${round3(process.uptime())},"request_count":${activity.requestCount},"last_activity":${epochSeconds(activity.lastActivity)},${clientsJson(activity, clientWindow)},"timestamp":${epochSeconds()}}`;
}

/** `/api/keep-alive` (GET, and POST once the client is recorded). */
export function keepAliveReport(activity: Activity, clientWindow: number): string {
  return `{"status":"alive","timestamp":${epochSeconds()},"request_count":${activity.requestCount},"last_activity":${epochSeconds(activity.lastActivity)},"uptime":${round3(process.uptime())},${clientsJson(activity, clientWindow)}}`;
}

/** `/api/health/live` and `/api/health/ready` in `application/health+json`: only pass or fail. */
export function probeHealthJson(ok: boolean): string {
  return ok ? '{"status":"pass"}' : '{"status":"fail"}';
}

/**
 * Why an app is not ready: draining first, then overloaded (serve() sheds load), then
 * checks not run yet, then failing critical checks; undefined when ready.
 */
export function notReadyReason(
  draining: boolean,
  failing: readonly string[],
  pending = false,
  overloaded = false,
): 'draining' | 'overloaded' | 'checks not completed yet' | 'critical checks failing' | undefined {
  if (draining) return 'draining';
  if (overloaded) return 'overloaded';
  if (failing.length === 0) return undefined;
  return pending ? 'checks not completed yet' : 'critical checks failing';
}

/** `/api/health/ready`, before any detail is added. */
export function readyReport(reason: string | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = { status: reason === undefined ? 'ready' : 'not_ready', timestamp: epochSeconds() };
  if (reason !== undefined) body.reason = reason;
  return body;
}

/** One named check of a Kubernetes-style `/livez` or `/readyz`: `error` is set when it fails. */
export interface ProbeCheck {
  name: string;
  error?: string | undefined;
}

/**
 * The plain-text answer of Kubernetes' `/livez` and `/readyz`, line for line as the
 * API server writes it: `ok`; with `verbose` one `[+]name ok` / `[-]name failed: …`
 * line per check and `livez check passed`; always the list on failure. Checks named
 * in `exclude` do not count (`[+]name excluded: ok`). Without `reasons` a failure
 * says `reason withheld`, as Kubernetes does for callers without permission.
 */
export function kubernetesReport(
  endpoint: 'livez' | 'readyz',
  checks: readonly ProbeCheck[],
  options: { verbose: boolean; exclude: ReadonlySet<string>; reasons: boolean },
): { ok: boolean; text: string } {
  const unmatched = new Set(options.exclude);
  let lines = '';
  let ok = true;
  for (const check of checks) {
    if (unmatched.delete(check.name)) {
      lines += `[+]${check.name} excluded: ok\n`;
    } else if (check.error === undefined) {
      lines += `[+]${check.name} ok\n`;
    } else {
      ok = false;
      lines += `[-]${check.name} failed: ${options.reasons ? check.error.replace(/\s+/g, ' ') : 'reason withheld'}\n`;
    }
  }
  if (unmatched.size > 0) {
    lines += `warn: some health checks cannot be excluded: no matches for ${[...unmatched].map((n) => JSON.stringify(n)).join(',')}\n`;
  }
  if (!ok) return { ok, text: `${lines}${endpoint} check failed\n` };
  return { ok, text: options.verbose ? `${lines}${endpoint} check passed\n` : 'ok' };
}
