// `lifeline monitor wrap SERVER -- command args…`: runs a job and reports it to a push
// monitor, as Healthchecks.io's runitor does: its start, then its exit code and the last
// lines of its output. The job runs whether or not the monitor answers.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { CliError } from './config-file.js';
import { action, chooseDatabase, withStore } from './monitor-commands.js';

/** Lines and characters of output sent as the message: the end of a log says why a job failed. */
const TAIL_LINES = 20;
const TAIL_CHARS = 2000;
/** A report that does not arrive within this is given up (the job's exit code still counts). */
const REPORT_TIMEOUT_MS = 10_000;

interface WrapOptions {
  url?: string;
  token?: string;
  database?: string;
}

/** The last lines of what a stream wrote, bounded. */
class Tail {
  #text = '';
  push(chunk: Buffer): void {
    this.#text = (this.#text + chunk.toString('utf8')).slice(-TAIL_CHARS * 4);
  }
  toString(): string {
    return this.#text
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
      .slice(-TAIL_LINES)
      .join('\n')
      .slice(-TAIL_CHARS);
  }
}

async function tokenOf(server: string, o: WrapOptions): Promise<string> {
  if (o.token !== undefined) {
    if (o.token.trim() === '') throw new CliError('--token: expected the push token of the server, got an empty string');
    return o.token.trim();
  }
  return withStore(chooseDatabase(o.database), async (store) => {
    const found = /^\d+$/.test(server)
      ? await store.servers.get(Number(server))
      : (await store.servers.all()).find((s) => s.name === server);
    if (!found) throw new CliError(`no server "${server}" (give its id or name, see lifeline monitor list)`);
    if (found.protocol !== 'push' || found.push_token === null) {
      throw new CliError(`server "${found.name}" is a ${found.protocol} server; wrap reports to push servers only`);
    }
    return found.push_token;
  });
}

function baseUrl(o: WrapOptions): URL {
  const [source, raw] = o.url !== undefined ? ['--url', o.url] : ['MONITOR_URL', process.env.MONITOR_URL];
  if (raw === undefined || raw.trim() === '')
    throw new CliError("give the monitor's URL with --url or MONITOR_URL, e.g. https://monitor.example.com");
  try {
    const url = new URL(raw.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    return url;
  } catch {
    throw new CliError(`${source}: expected an http(s) URL of the monitor, got "${raw}"`);
  }
}

/** Sends one signal; a monitor that does not answer is said on stderr (without the token) and the job goes on. */
async function report(base: URL, token: string, signal: string, message?: string): Promise<void> {
  const url = new URL(`api/push/${encodeURIComponent(token)}/${signal}`, base.href.endsWith('/') ? base : `${base.href}/`);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: message ?? '',
      signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
    });
    if (!res.ok)
      console.error(
        `lifeline monitor wrap: the monitor answered ${res.status} to "${signal}"${res.status === 404 ? ' (unknown token)' : ''}`,
      );
    await res.body?.cancel();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    console.error(`lifeline monitor wrap: could not report "${signal}" to ${base.origin}: ${why}`);
  }
}

async function wrapCommand(server: string, command: string[], o: WrapOptions): Promise<number> {
  const base = baseUrl(o);
  const token = await tokenOf(server, o);
  const [file, ...args] = command;
  if (file === undefined) throw new CliError('give the command to run after --, e.g. lifeline monitor wrap backup -- ./backup.sh');
  await report(base, token, 'start');
  const tail = new Tail();
  const child = spawn(file, args, { stdio: ['inherit', 'pipe', 'pipe'] });
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    tail.push(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    tail.push(chunk);
  });
  // Signals meant for the job reach it; the wrapper waits for its exit to report it.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  const exitCode = await new Promise<number>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      tail.push(Buffer.from(`\n${error.code === 'ENOENT' ? `command not found: ${file}` : error.message}\n`));
      resolve(error.code === 'ENOENT' ? 127 : 126);
    });
    child.once('close', (code, signal) => {
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, forward);
  await report(base, token, String(Math.min(exitCode, 255)), tail.toString());
  return exitCode;
}

/** Registers `lifeline monitor wrap`. */
export function registerMonitorWrap(monitorCommand: Command): void {
  monitorCommand
    .command('wrap')
    .description(
      'run a command and report its start and exit to a push server (exit code 0: up, else down; the last output lines as the message)',
    )
    .argument('<server>', 'push server id or name (its token is read from the database), or anything with --token')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--url <url>', "the monitor's URL (default: MONITOR_URL)")
    .option('--token <token>', 'the push token, instead of reading it from the database')
    .option('--database <url>', 'postgres:// URL or SQLite file to read the token from (default: DATABASE_URL, else monitor.db)')
    .action(action(wrapCommand));
}
