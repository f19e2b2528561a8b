import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PERL_ARGS } from '../cluster/systemd-notify.js';
import { workerCount } from './args.js';
import { CliError, effectiveConfig } from './config-file.js';

export interface UnitFlags {
  workers?: string;
  user?: string;
  type?: string;
  shutdownTimeout?: number;
  port?: number;
}

/** One ExecStart word: quoted, with systemd's own `$` and `%` escaped and C escapes doubled. */
function word(value: string): string {
  if (/^[\w@%+=:,./-]+$/.test(value) && !/[$%]/.test(value)) return value;
  if (value.includes("'") && value.includes('"')) throw new CliError(`cannot quote ${value} for systemd`);
  const q = value.includes("'") ? '"' : "'";
  return `${q}${value.replaceAll('\\', '\\\\').replaceAll('$', '$$$$').replaceAll('%', '%%')}${q}`;
}

/** systemd ≥ 253 has Type=notify-reload (it sends SIGHUP itself and waits for RELOADING=1 … READY=1). */
function localSystemdVersion(): number | undefined {
  try {
    const match = /systemd (\d+)/.exec(execFileSync('systemctl', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `lifeline systemd unit`: a service unit for the app in the current folder. ExecStart
 * runs node through perl, which opens the notify socket and execs node in the same
 * process, so NotifyAccess=main holds (see systemd-notify.ts).
 */
export function systemdUnit(entry: string | undefined, flags: UnitFlags, out: (line: string) => void): number {
  const config = effectiveConfig({ port: flags.port });
  const app = resolve(entry ?? config.entry ?? 'app.js');
  if (!existsSync(app)) throw new CliError(`${app} does not exist (give the app module: lifeline systemd unit ./app.js)`);
  const type = flags.type ?? ((localSystemdVersion() ?? 0) >= 253 ? 'notify-reload' : 'notify');
  if (type !== 'notify' && type !== 'notify-reload') throw new CliError(`--type expects notify or notify-reload, got '${type}'`);
  if (flags.user !== undefined && !/^[a-z_][a-z0-9_-]{0,31}\$?$/i.test(flags.user))
    throw new CliError(`--user expects a user name, got '${flags.user}'`);
  const workers = flags.workers === undefined ? undefined : workerCount('--workers', flags.workers, false);
  const perl = ['/usr/bin/perl', '/bin/perl'].find((p) => existsSync(p)) ?? '/usr/bin/perl';
  const cli = fileURLToPath(new URL('./main.js', import.meta.url));
  const dir = process.cwd();
  const shutdown = flags.shutdownTimeout ?? 10_000;
  const serveArgs = ['serve', app, '--port', String(config.port)];
  if (workers !== undefined) serveArgs.push('--workers', String(workers));
  if (flags.shutdownTimeout !== undefined) serveArgs.push('--shutdown-timeout', String(flags.shutdownTimeout));
  const exec = [perl, ...PERL_ARGS, process.execPath, cli, ...serveArgs].map(word).join(' ');
  const underHome = dir === '/home' || dir.startsWith(`/home${sep}`) || dir === '/root' || dir.startsWith(`/root${sep}`);
  const lines = [
    '[Unit]',
    `Description=${basename(dir)} (express-lifeline)`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    `Type=${type}`,
    'NotifyAccess=main',
    ...(flags.user ? [`User=${flags.user}`] : []),
    `WorkingDirectory=${dir}`,
    'Environment=NODE_ENV=production',
    `ExecStart=${exec}`,
    ...(type === 'notify' ? ['ExecReload=/bin/kill -HUP $MAINPID'] : []),
    'KillSignal=SIGTERM',
    // The workers drain in parallel; each gets the shutdown timeout and 2 s before it is killed.
    `TimeoutStopSec=${Math.ceil((shutdown + 5000) / 1000)}`,
    'WatchdogSec=30',
    'Restart=on-failure',
    'RestartSec=2',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    `ReadWritePaths=${dir}`,
    'PrivateTmp=yes',
    ...(underHome ? [] : ['ProtectHome=read-only']),
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  out(lines.join('\n'));
  return 0;
}
