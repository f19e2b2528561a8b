import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

export interface Child {
  child: ChildProcess;
  output(): string;
  /** Resolves with the first stdout line that parses as JSON. */
  firstJson<T>(): Promise<T>;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns `node script` with extra environment, collecting stdout and stderr. With
 * `fileLimit`, node runs under `ulimit -n <fileLimit>` (soft and hard), through bash; `cwd` is its working folder.
 */
export function runNode(
  script: string,
  env: Record<string, string> = {},
  args: string[] = [],
  { fileLimit, cwd }: { fileLimit?: number; cwd?: string } = {},
): Child {
  const [command, argv] =
    fileLimit === undefined
      ? [process.execPath, [script, ...args]]
      : ['bash', ['-c', `ulimit -n ${fileLimit} && exec "$0" "$@"`, process.execPath, script, ...args]];
  const child = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return {
    child,
    output: () => output,
    firstJson<T>() {
      return new Promise<T>((resolve, reject) => {
        const look = () => {
          for (const line of output.split('\n')) {
            if (!line.startsWith('{')) continue;
            try {
              resolve(JSON.parse(line) as T);
              child.stdout.off('data', look);
              return;
            } catch {
              // not JSON yet
            }
          }
        };
        child.stdout.on('data', look);
        void exit.then(({ code }) => reject(new Error(`exited with ${code} before printing JSON:\n${output}`)));
        look();
      });
    },
    exited: () => exit,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Running, and not a zombie waiting for a parent to reap it (read from /proc). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
