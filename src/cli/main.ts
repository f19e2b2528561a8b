#!/usr/bin/env node
// The `lifeline` command. Its commands (start, stop, status, logs, serve, …) arrive with
// the server manager; until then it answers --help and --version and refuses the rest.
import { readFileSync } from 'node:fs';

const COMING = ['start', 'stop', 'restart', 'reload', 'status', 'logs', 'kill-port', 'config', 'run', 'serve'];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const [command] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  console.log(
    `Usage: lifeline <command>\n\nexpress-lifeline ${version()}. The server manager commands (${COMING.join(', ')}) are not in this release yet.\n\nOptions:\n  -h, --help     show this help\n  -v, --version  print the version`,
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
