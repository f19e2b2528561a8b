import { watch, type FSWatcher } from 'node:fs';

const IGNORED = /(^|[/\\])(node_modules|\.git|dist|data|coverage)([/\\]|$)|\.log(\.\d+)?$|^\.backend|auto_restart\.log$/;
const SOURCE = /\.(c|m)?(j|t)sx?$|\.json$/;

/**
 * Calls `onChange` once per burst of source changes under `dir` (dev mode): edits of
 * .js/.ts/.json files, not logs, data, node_modules or the PID and config files.
 */
export function watchSources(dir: string, onChange: (file: string) => void, debounceMs = 300): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  let last = '';
  const watcher = watch(dir, { recursive: true }, (_event, name) => {
    const file = String(name ?? '');
    if (!SOURCE.test(file) || IGNORED.test(file)) return;
    last = file;
    clearTimeout(timer);
    timer = setTimeout(() => onChange(last), debounceMs);
  });
  watcher.unref();
  return watcher;
}
