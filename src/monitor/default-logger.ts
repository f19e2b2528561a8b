import type { LifelineLogger } from '../logging/logger.js';

// The monitor's parts run in apps that bring their own logger, or in scripts that don't:
// without one, warnings and errors go to the console and nothing else.
const consoleLogger: LifelineLogger = {
  error: (message, meta) => console.error(message, meta ?? ''),
  warn: (message, meta) => console.warn(message, meta ?? ''),
  info: () => {},
  debug: () => {},
};
const silent: LifelineLogger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/** The logger a monitor part uses: the caller's, none for `false`, else warnings and errors on the console. */
export function monitorLogger(option: LifelineLogger | false | undefined): LifelineLogger {
  return option === false ? silent : (option ?? consoleLogger);
}
