import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const HOW =
  'set CHROMIUM_PATH to a Chromium or Chrome executable, put chromium on the PATH, or run `bash scripts/install-chromium.sh` as root on Debian/Ubuntu (`npm test` runs it)';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The Chromium the page test drives, found the way scripts/install-chromium.sh finds it:
 * CHROMIUM_PATH, else the first of chromium, chromium-browser, google-chrome on the PATH.
 * Throws one line saying how to get one: the page test fails, it is never skipped.
 */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CHROMIUM_PATH) {
    if (executable(env.CHROMIUM_PATH)) return env.CHROMIUM_PATH;
    throw new Error(`CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file: ${HOW}`);
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of NAMES) {
      if (executable(join(dir, name))) return join(dir, name);
    }
  }
  throw new Error(`no Chromium found: ${HOW}`);
}
