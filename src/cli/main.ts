#!/usr/bin/env node
// The `lifeline` command: `serve` runs the clustered runner; the server manager commands
// (start, stop, status, logs, …) arrive later and are refused with one line until then.
import { readFileSync } from 'node:fs';
import { serveCommand } from './serve.js';

const COMING = ['start', 'stop', 'restart', 'reload', 'status', 'logs', 'kill-port', 'config', 'run'];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'serve') {
  const code = await serveCommand(rest);
  if (code >= 0) process.exitCode = code;
} else if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  console.log(
    `Usage: lifeline <command>\n\nCommands:\n  serve <entry>  run an Express app in a cluster of workers (lifeline serve --help)\n\nexpress-lifeline ${version()}. The server manager commands (${COMING.join(', ')}) are not in this release yet.\n\nOptions:\n  -h, --help     show this help\n  -v, --version  print the version`,
  );
} else if (command === '--version' || command === '-v') {
  console.log(version());
} else if (COMING.includes(command)) {
  console.error(`lifeline: \`${command}\` is not available in express-lifeline ${version()} yet`);
  process.exitCode = 1;
} else {
  console.error(`lifeline: unknown command \`${command}\` (see lifeline --help)`);
  process.exitCode = 1;
}
