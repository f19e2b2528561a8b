import type { LifelineLogger } from '../../src/index.js';

export interface LogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  meta: Record<string, unknown> | undefined;
}

/** A logger that keeps lines in memory, for asserting on what was logged. */
export function memoryLogger(): LifelineLogger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string, meta?: Record<string, unknown>): void => {
      lines.push({ level, message, meta });
    };
  return {
    lines,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    text: () => lines.map((l) => `${l.level} ${l.message}`).join('\n'),
  };
}
