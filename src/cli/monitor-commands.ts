// `lifeline monitor migrate|user add|add|list|remove|check`: scripting the monitor's
// database. The monitor (and so knex and its driver) is imported inside each action,
// so every other lifeline command starts without it.
import type { Command } from 'commander';
import { checkDatabaseUrl } from '../database-url.js';
import { ConfigError } from '../errors.js';
import { redactText, redactUrl } from '../logging/redact.js';
import type { CheckReport, MonitorStore, Server, ServerEvent, ServerInput, ServerWithStatus } from '../monitor/index.js';
import { CliError } from './config-file.js';
import { monitorErrorLine } from './monitor-serve.js';

type MonitorModule = typeof import('../monitor/index.js');

const loadMonitor = (): Promise<MonitorModule> => import('../monitor/index.js');

/** One line on stderr, credentials hidden. */
const stderrLine = (message: unknown) => console.error(monitorErrorLine(redactText(String(message).split('\n', 1)[0]!)));

/** Runs an action and turns its outcome into the exit code; any error is one line, credentials hidden. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number>) {
  return async (...args: A) => {
    try {
      process.exitCode = await fn(...args);
    } catch (error) {
      stderrLine(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    }
  };
}

interface DatabaseChoice {
  url: string;
  /** For messages: the file name, or the URL with its password and query values hidden. */
  label: string;
}

/** `--database`, else `DATABASE_URL`, else `monitor.db`; a URL of another database is refused here. */
export function chooseDatabase(option: string | undefined): DatabaseChoice {
  const fromEnv = process.env.DATABASE_URL;
  const [source, url] = option !== undefined ? ['--database', option] : fromEnv ? ['DATABASE_URL', fromEnv] : ['', 'monitor.db'];
  const expected = `${source}: expected a postgres:// URL or a SQLite file name, got`;
  if (url.trim() === '') throw new CliError(`${expected} an empty string`);
  checkDatabaseUrl(url, source);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  const label = scheme ? redactUrl(url) : url;
  if (scheme !== undefined && !['postgres', 'postgresql', 'sqlite'].includes(scheme)) throw new CliError(`${expected} ${label}`);
  return { url, label };
}

/** knex's warnings (a failed connection, with its stack) would repeat, on stdout, the error reported in one line. */
const KNEX_LOG = { warn: () => {}, debug: () => {}, error: stderrLine, deprecate: stderrLine };

/** Opens the store (migrated unless told otherwise), runs `fn`, always closes it. */
export async function withStore<T>(
  db: DatabaseChoice,
  fn: (store: MonitorStore, monitor: MonitorModule) => Promise<T>,
  { migrate = true } = {},
): Promise<T> {
  const monitor = await loadMonitor();
  let store: MonitorStore | undefined;
  try {
    store = await monitor.openStore({ database: db.url, migrate: false, log: KNEX_LOG });
    // The first query is the first connection: a wrong host or password fails here.
    if (migrate) await store.migrate();
    else await store.db.raw('select 1');
  } catch (error) {
    // Its pool would keep the process alive after the one line is printed.
    await store?.close().catch(() => {});
    throw openError(error, db, monitor);
  }
  const changes: ServerEvent[] = [];
  const offServer = store.events.on('server', (change) => changes.push(change));
  try {
    const result = await fn(store, monitor);
    await announce(store, changes, monitor);
    return result;
  } finally {
    offServer();
    await store.close();
  }
}

/** Running monitors follow a server change at once when told through their channel layer; else at their next sync. */
async function announce(store: MonitorStore, changes: ServerEvent[], monitor: MonitorModule): Promise<void> {
  try {
    await monitor.announceServerChanges(store, changes);
  } catch (error) {
    stderrLine(
      `stored; running monitors pick it up within 15 seconds (could not announce it: ${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

const SQL_PREFIX = /^(?:select|insert|update|delete|create|alter|drop|pragma)\b.*? - /i;
const SQLITE_ACCESS = /readonly database|unable to open database file/i;

/** A database error's first line: the driver's reason (knex puts the statement first), with a hint for file access. */
export function databaseReason(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).split('\n', 1)[0]!.replace(SQL_PREFIX, '');
  return SQLITE_ACCESS.test(message) ? `${message} (this user must be able to write the file and its folder)` : message;
}

function openError(error: unknown, db: DatabaseChoice, monitor: MonitorModule): Error {
  // A missing driver or a bad MONITOR_* variable already says it all in one line.
  if (error instanceof monitor.MissingDependencyError || error instanceof ConfigError) return error;
  return new CliError(`cannot open the database ${db.label}: ${databaseReason(error)}`);
}

/** How a server is shown: its check URL, or `tcp://host:port`. */
function target(server: Server, monitor: MonitorModule): string {
  if (server.protocol === 'push') return server.schedule ? `push (${server.schedule})` : `push (every ${server.check_interval} s)`;
  if (server.protocol === 'dns') return `dns://${server.host} ${server.dns_record_type ?? 'A'}`;
  if (server.protocol !== 'tcp') return monitor.targetUrl(server).href;
  return `tcp://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const json = (value: unknown) => console.log(JSON.stringify(value, null, 2));

// ---- migrate

async function migrateCommand(o: { database?: string }): Promise<number> {
  const db = chooseDatabase(o.database);
  return withStore(
    db,
    async (store, monitor) => {
      let applied: string[];
      try {
        applied = await store.migrate();
      } catch (error) {
        throw openError(error, db, monitor);
      }
      const total = (await monitor.migrationSource.getMigrations([])).length;
      if (applied.length === 0) console.log(`${db.label} is up to date (${plural(total, 'migration')} applied)`);
      else console.log(`applied ${plural(applied.length, 'migration')} to ${db.label}: ${applied.join(', ')}`);
      return 0;
    },
    { migrate: false },
  );
}

// ---- user add

/** Django's user name rule, so names are the ones a PulseGuard client accepts. */
const USER_NAME = /^[\w.@+-]{1,150}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;

/** Reads one line from the terminal in raw mode, echoing nothing. */
function promptHidden(prompt: string): Promise<string> {
  const { stdin, stderr } = process;
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || (ch === '\u0004' && value === '')) return finish(new CliError('cancelled: no user created'));
        if (ch === '\u0004') return finish();
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stderr.write(prompt);
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** The first line of stdin (a pipe or a file): what `echo "$PASSWORD" | lifeline monitor user add …` gives. */
async function readStdinLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  process.stdin.destroy();
  return text.split('\n', 1)[0]!.replace(/\r$/, '');
}

async function readPassword(name: string): Promise<string> {
  let password: string;
  if (process.stdin.isTTY) {
    password = await promptHidden(`Password for ${name}: `);
    if (password.length >= MIN_PASSWORD && (await promptHidden('Again: ')) !== password) throw new CliError('the passwords do not match');
  } else {
    password = await readStdinLine();
    if (password === '') throw new CliError('no password on stdin: pipe it in, e.g. `lifeline monitor user add NAME < password-file`');
  }
  if (password.length < MIN_PASSWORD) throw new CliError(`the password must have at least ${MIN_PASSWORD} characters`);
  if (password.length > MAX_PASSWORD) throw new CliError(`the password must have at most ${MAX_PASSWORD} characters`);
  return password;
}

async function userAddCommand(name: string, o: { admin?: boolean; database?: string }): Promise<number> {
  if (!USER_NAME.test(name)) {
    throw new CliError(`user add: a user name is 1-150 letters, digits and @ . + - _, got ${JSON.stringify(name.slice(0, 160))}`);
  }
  const { hashPassword } = await import('../monitor/auth/passwords.js');
  // The database and the name are checked before anyone types a password.
  return withStore(chooseDatabase(o.database), async (store) => {
    if (await store.users.byUsername(name)) throw new CliError(`user ${name} already exists`);
    const password = await readPassword(name);
    try {
      await store.users.create({ username: name, password_hash: await hashPassword(password), is_admin: Boolean(o.admin) });
    } catch (error) {
      // Created meanwhile by another process: the unique index said no.
      if (await store.users.byUsername(name)) throw new CliError(`user ${name} already exists`);
      throw error;
    }
    console.log(`created user ${name} (${o.admin ? 'admin' : 'read-only'})`);
    return 0;
  });
}

// ---- user list|remove|passwd|admin

async function userListCommand(o: { json?: boolean; database?: string }): Promise<number> {
  return withStore(chooseDatabase(o.database), async (store) => {
    const users = await store.users.list();
    if (o.json) {
      json(users.map((u) => ({ id: u.id, username: u.username, is_staff: u.is_admin, is_active: u.is_active, date_joined: u.created_at })));
    } else if (users.length === 0) {
      console.log('no users: add one with `lifeline monitor user add NAME --admin`');
    } else {
      const rows = users.map((u) => [String(u.id), u.username, u.is_admin ? 'admin' : 'read-only', u.is_active ? 'active' : 'inactive']);
      console.log(table([['ID', 'NAME', 'ROLE', 'STATE'], ...rows]));
    }
    return 0;
  });
}

const LAST_ADMIN = 'is the last active admin: make another user an admin first (lifeline monitor user admin NAME)';

/** Looks a user up by name; a missing one ends the command. */
async function namedUser(store: MonitorStore, name: string): Promise<{ id: number; is_admin: boolean }> {
  const user = await store.users.byUsername(name);
  if (!user) throw new CliError(`no user named ${JSON.stringify(name.slice(0, 160))}`);
  return user;
}

async function userRemoveCommand(name: string, o: { database?: string }): Promise<number> {
  return withStore(chooseDatabase(o.database), async (store) => {
    const user = await namedUser(store, name);
    const result = await store.users.change(user.id, 'remove');
    if (!result.ok) throw new CliError(result.reason === 'last-admin' ? `user ${name} ${LAST_ADMIN}` : `no user named ${name}`);
    console.log(`removed user ${name}: their tokens and open streams stop working`);
    return 0;
  });
}

async function userPasswdCommand(name: string, o: { database?: string }): Promise<number> {
  const { hashPassword } = await import('../monitor/auth/passwords.js');
  return withStore(chooseDatabase(o.database), async (store) => {
    const user = await namedUser(store, name);
    const password = await readPassword(name);
    const result = await store.users.change(user.id, { password_hash: await hashPassword(password) });
    if (!result.ok) throw new CliError(`no user named ${name}`);
    console.log(`changed the password of ${name}`);
    return 0;
  });
}

async function userAdminCommand(name: string, o: { revoke?: boolean; database?: string }): Promise<number> {
  return withStore(chooseDatabase(o.database), async (store) => {
    const user = await namedUser(store, name);
    const result = await store.users.change(user.id, { is_admin: !o.revoke });
    if (!result.ok) throw new CliError(result.reason === 'last-admin' ? `user ${name} ${LAST_ADMIN}` : `no user named ${name}`);
    console.log(o.revoke ? `${name} is read-only now` : `${name} is an admin now`);
    return 0;
  });
}

// ---- add

interface AddOptions {
  name: string;
  url?: string;
  tcp?: string;
  interval?: string;
  json?: boolean;
  database?: string;
}

/** `http(s)://host:port/path?query` → protocol, host, port, path. */
function fromUrl(raw: string): Record<string, unknown> {
  const fail = () => new CliError(`--url: expected an http:// or https:// URL, got ${JSON.stringify(redactText(raw))}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw fail();
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw fail();
  // The check would not send them: refused rather than silently dropped.
  if (url.username || url.password) throw new CliError(`--url: credentials in the URL are not supported: ${redactUrl(raw)}`);
  return {
    protocol: url.protocol.slice(0, -1),
    host: url.hostname,
    ...(url.port ? { port: url.port } : {}),
    path: `${url.pathname}${url.search}`,
  };
}

/** `host:port` or `[v6]:port`. */
function fromTcp(raw: string): Record<string, unknown> {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(raw) ?? /^([^:[\]]+):(\d+)$/.exec(raw);
  if (!m) throw new CliError(`--tcp: expected HOST:PORT ([IPv6]:PORT), got ${JSON.stringify(raw)}`);
  return { protocol: 'tcp', host: m[1], port: m[2] };
}

async function addCommand(o: AddOptions): Promise<number> {
  if (o.url === undefined && o.tcp === undefined) throw new CliError('add: give the target: --url URL or --tcp HOST:PORT');
  if (o.url !== undefined && o.tcp !== undefined) throw new CliError('add: give the target: --url URL or --tcp HOST:PORT, not both');
  const targetOption = o.url !== undefined ? '--url' : '--tcp';
  const fields = o.url !== undefined ? fromUrl(o.url) : fromTcp(o.tcp!);
  const body = { name: o.name, ...fields, ...(o.interval !== undefined ? { check_interval: o.interval } : {}) };
  const monitor = await loadMonitor();
  const checked = monitor.validateServer(body);
  if (!checked.ok) {
    // The API's field errors, named after the option that set the field.
    const optionOf = (field: string) =>
      field === 'name' ? '--name' : field === 'check_interval' || field === 'timeout' ? '--interval' : targetOption;
    const parts = Object.entries(checked.errors).map(([field, messages]) => `${optionOf(field)}: ${messages.join(' ')}`);
    throw new CliError(parts.join('; '));
  }
  const input: ServerInput = checked.value;
  return withStore(chooseDatabase(o.database), async (store) => {
    const server = await store.servers.create(input);
    if (o.json) json(server);
    else {
      console.log(
        `added server ${server.id}: ${server.name} ${target(server, monitor)} every ${server.check_interval} s (timeout ${server.timeout} s)`,
      );
    }
    return 0;
  });
}

// ---- list

/** Every server, in the API's shape (status, notification ids, current status). */
async function allServers(store: MonitorStore): Promise<ServerWithStatus[]> {
  // Loaded here: other lifeline commands load no monitor module.
  const { showServerStatuses } = await import('../monitor/windows/index.js');
  return showServerStatuses(store, (await store.servers.list({ limit: Number.MAX_SAFE_INTEGER })).results);
}

async function listCommand(o: { json?: boolean; database?: string }): Promise<number> {
  return withStore(chooseDatabase(o.database), async (store, monitor) => {
    const servers = await allServers(store);
    if (o.json) {
      json(servers);
      return 0;
    }
    if (servers.length === 0) {
      console.log('no servers yet: lifeline monitor add --name NAME --url URL (or --tcp HOST:PORT)');
      return 0;
    }
    const rows = servers.map((s) => {
      const status = s.current_status;
      return [
        String(s.id),
        s.name,
        target(s, monitor),
        `${status?.status ?? 'pending'}${s.enabled ? '' : ' (disabled)'}`,
        `${(status?.uptime_percentage ?? 100).toFixed(2)}%`,
        status?.last_check ?? 'never',
        status?.message ?? '',
      ];
    });
    console.log(table([['ID', 'NAME', 'TARGET', 'STATUS', 'UPTIME 24H', 'LAST CHECK', 'MESSAGE'], ...rows]));
    return 0;
  });
}

// ---- remove

async function removeCommand(id: string, o: { database?: string }): Promise<number> {
  if (!/^[1-9]\d{0,9}$/.test(id)) throw new CliError(`remove: expected a server id (a positive integer), got ${JSON.stringify(id)}`);
  return withStore(chooseDatabase(o.database), async (store) => {
    const server = await store.servers.get(Number(id));
    if (!server || !(await store.servers.remove(server.id))) throw new CliError(`no server with id ${id}`);
    console.log(`removed server ${server.id} (${server.name}) and its history`);
    return 0;
  });
}

// ---- check

/** A failure this pass, or a server that is down: what makes `check` exit 1. */
const failing = (r: CheckReport) => r.ping.status !== 'success' || r.status.status === 'down';

function resultText(r: CheckReport): string {
  const { ping, status, server } = r;
  if (ping.status === 'success') {
    const ms = `${Math.round(ping.response_time ?? 0)} ms`;
    const done = ping.status_code === null ? `connected in ${ms}` : `${ping.status_code} in ${ms}`;
    return status.status === 'degraded' ? `${done}: ${status.message}` : done;
  }
  const why = ping.error_message ?? ping.status;
  return status.status === 'pending' ? `${why} (${status.consecutive_failures} of ${server.failure_threshold} failures)` : why;
}

async function checkCommand(o: { json?: boolean; database?: string }): Promise<number> {
  const db = chooseDatabase(o.database);
  const monitor = await loadMonitor();
  const logger = {
    error: stderrLine,
    warn: stderrLine,
    info: () => {},
    debug: () => {},
  };
  let instance: Awaited<ReturnType<MonitorModule['createMonitor']>>;
  try {
    // One pass, not a schedule; and not claimed in the database: an explicit pass runs even while a monitor serves.
    instance = await monitor.createMonitor({ database: db.url, schedule: false, shared: false, logger });
  } catch (error) {
    throw openError(error, db, monitor);
  }
  const started = Date.now();
  let reports: CheckReport[];
  try {
    reports = await instance.runNow();
  } finally {
    await instance.close();
  }
  const elapsed = Date.now() - started;
  const bad = reports.filter(failing).length;
  if (o.json) json(reports);
  else if (reports.length === 0) console.log('no enabled servers to check');
  else {
    const rows = reports.map((r) => [r.status.status, String(r.server.id), r.server.name, target(r.server, monitor), resultText(r)]);
    console.log(table([['STATUS', 'ID', 'NAME', 'TARGET', 'RESULT'], ...rows]));
    const ok = reports.length - bad;
    console.log(`checked ${plural(reports.length, 'server')} in ${elapsed} ms: ${ok} up${bad > 0 ? `, ${bad} failing` : ''}`);
  }
  return bad > 0 ? 1 : 0;
}

/**
 * Adds `migrate`, `user add`, `add`, `list`, `remove` and `check` to the `lifeline monitor`
 * group. Each takes `--database URL` (else `DATABASE_URL`, else `monitor.db`).
 */
export function registerMonitorCommands(monitorCommand: Command): void {
  const database = ['--database <url>', 'postgres:// URL or SQLite file (default: DATABASE_URL, else monitor.db)'] as const;

  monitorCommand
    .command('migrate')
    .description("apply the monitor's database migrations and exit")
    .option(...database)
    .action(action(migrateCommand));

  const user = monitorCommand.command('user').description('manage the users of the API and dashboard');
  user
    .command('add')
    .description('create a user; the password is read from the terminal, or from stdin when it is not one')
    .argument('<name>', 'user name')
    .option('--admin', 'may change servers and notifications (default: read-only)')
    .option(...database)
    .action(action(userAddCommand));
  user
    .command('list')
    .description('users with their role and state')
    .option('--json', 'machine-readable output')
    .option(...database)
    .action(action(userListCommand));
  user
    .command('remove')
    .description('remove a user (not the last active admin); their tokens and streams stop working')
    .argument('<name>', 'user name')
    .option(...database)
    .action(action(userRemoveCommand));
  user
    .command('passwd')
    .description("set a user's password, read from the terminal, or from stdin when it is not one")
    .argument('<name>', 'user name')
    .option(...database)
    .action(action(userPasswdCommand));
  user
    .command('admin')
    .description('make a user an admin, or read-only again with --revoke (not the last active admin)')
    .argument('<name>', 'user name')
    .option('--revoke', 'make the user read-only')
    .option(...database)
    .action(action(userAdminCommand));

  monitorCommand
    .command('add')
    .description('add a server: --url http(s)://host:port/path or --tcp HOST:PORT')
    .requiredOption('--name <name>', 'display name')
    .option('--url <url>', 'http(s) URL to GET')
    .option('--tcp <host:port>', 'TCP port to connect to')
    .option('--interval <seconds>', 'seconds between checks (default 60)')
    .option('--json', 'print the stored server as JSON')
    .option(...database)
    .action(action(addCommand));

  monitorCommand
    .command('list')
    .description('servers with their current status and 24 h uptime')
    .option('--json', 'machine-readable output')
    .option(...database)
    .action(action(listCommand));

  monitorCommand
    .command('remove')
    .description('remove a server and its history')
    .argument('<id>', 'server id (see list)')
    .option(...database)
    .action(action(removeCommand));

  monitorCommand
    .command('check')
    .description('check every enabled server once now and print the results; exit 1 when any is failing or down')
    .option('--json', 'machine-readable output')
    .option(...database)
    .action(action(checkCommand));
}
