import { fstatSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import winston from 'winston';
import { ConfigError } from '../errors.js';
import type { LogFormat, LogLevel } from '../options.js';
import { checkBoolean, checkInteger, checkOneOf, checkOptionsObject, checkString, LOG_LEVELS, optionError, readEnv } from '../options.js';
import { escapeControl, escapeJsonLine } from './escape.js';
import { redactField, redactText, redactValue } from './redact.js';
import { RotatingFileTransport } from './rotating-file.js';

/** What express-lifeline logs through: winston's logger fits, so does console or pino. */
export interface LifelineLogger {
  error(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  debug(message: string, meta?: Record<string, unknown>): unknown;
}

export interface LoggerOptions {
  /** Log file path, relative to the working directory. Default `LOG_FILE` or `backend.log`; `false` for none. */
  file?: string | false;
  /** Default `LOG_LEVEL` or `info`. */
  level?: LogLevel;
  /** `text` lines (default, `LOG_FORMAT`) or `json` lines. */
  format?: LogFormat;
  /** Also log to the console (stdout). Default true. */
  console?: boolean;
  /** Rotate the file at this size in bytes. Default 10 MB. */
  maxSize?: number;
  /** Rotated files kept beside the live one. Default 5. */
  maxFiles?: number;
  /** Days a rotated file is kept. Default 10. */
  retentionDays?: number;
  /** Mode of the log files it creates: `0o600` (default, `LOG_FILE_MODE`) or `0o640` for a log reader in the group. */
  fileMode?: 0o600 | 0o640;
}

const MESSAGE = Symbol.for('message');

const KNOWN = ['file', 'level', 'format', 'console', 'maxSize', 'maxFiles', 'retentionDays', 'fileMode'] as const;

/** True when stdout already is the log file (`lifeline start` sends it there): console lines would be written twice. */
function stdoutIsFile(file: string | false): boolean {
  if (file === false) return false;
  // Under `lifeline start` the primary writes this process's stdout into the file (LIFELINE_STDOUT_LOGGED).
  if (process.env.LIFELINE_STDOUT_LOGGED === resolve(file)) return true;
  try {
    const out = fstatSync(1);
    const log = statSync(resolve(file));
    return out.isFile() && out.ino === log.ino && out.dev === log.dev;
  } catch {
    return false;
  }
}

const redact = winston.format((info) => {
  info.message = typeof info.message === 'string' ? redactText(info.message) : info.message;
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message' || key === 'timestamp' || key === 'component') continue;
    if (key === 'stack' && typeof info.stack === 'string') info.stack = redactText(info.stack);
    else info[key] = redactField(key, info[key]);
  }
  return info;
});

/**
 * A stack as continuation lines under its record: the head (`Error: message`), then
 * the indented frames. The message may quote request input with line breaks, even a
 * fake `    at` line followed by a forged record: the head is one escaped line and every
 * line after it is escaped and indented, so nothing else starts at column 0.
 */
function stackLines(stack: string): string {
  const lines = stack.split('\n');
  let frames = lines.findIndex((l) => /^\s+at /.test(l));
  if (frames === -1) frames = lines.length;
  const head = frames > 0 ? `\n${escapeControl(lines.slice(0, frames).join('\n'))}` : '';
  return (
    head +
    lines
      .slice(frames)
      .map((l) => `\n${/^\s/.test(l) ? '' : '    '}${escapeControl(l)}`)
      .join('')
  );
}

// One record, one line: control characters from any source (a path, a header, an
// error message quoting input) are escaped here, once, for every text line.
const textLine = winston.format.printf((info) => {
  const { timestamp, level, message, component, stack, trace_id, span_id, ...rest } = info;
  let line = `${String(timestamp)} ${level} ${component ? `[${String(component)}] ` : ''}${String(message)}`;
  // Trace context as key=value, the form log tools join traces on (JSON lines keep them as fields).
  if (typeof trace_id === 'string') line += ` trace_id=${trace_id}`;
  if (typeof span_id === 'string') line += ` span_id=${span_id}`;
  const extra = Object.keys(rest).length > 0 ? JSON.stringify(rest) : '';
  if (extra && extra !== '{}') line += ` ${extra}`;
  line = escapeControl(line);
  if (typeof stack === 'string') line += stackLines(stack);
  return line;
});

const jsonLine = winston.format.combine(
  winston.format.json(),
  winston.format((info) => {
    const key = MESSAGE as unknown as string;
    info[key] = escapeJsonLine(String(info[key]));
    return info;
  })(),
);
const FILE_PROBLEMS: Record<string, string> = {
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOTDIR: 'a parent of it is not a directory',
  EEXIST: 'a parent of it is not a directory',
  ENOSPC: 'no space left on the device',
  ENOENT: 'its folder cannot be created there',
};

/** One line naming the variable (or option), the path and the reason, instead of a raw fs stack. */
function logFileError(fromEnv: boolean, filename: string, error: unknown): TypeError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    code === undefined
      ? error instanceof Error
        ? error.message
        : String(error)
      : `${code}, ${FILE_PROBLEMS[code] ?? (error as Error).message}`;
  // The default file (LOG_FILE unset) is named by the variable too: setting it is the fix.
  if (fromEnv) return new ConfigError('LOG_FILE', `Invalid LOG_FILE: cannot write the log file ${filename} (${reason})`);
  return new TypeError(`createLogger: cannot write \`file\` ${filename} (${reason})`);
}

/** A winston logger that keeps one handle on its file; `close()` flushes and releases it. */
export type ClosableLogger = winston.Logger & { closeAndFlush(): Promise<void> };

/**
 * Creates the logger for `backend.log`: text or JSON lines, size rotation without split
 * lines, secrets redacted from messages and metadata.
 *
 * @example
 * const logger = createLogger({ file: 'backend.log', level: 'debug' });
 */
export function createLogger(options: Readonly<LoggerOptions> = {}): ClosableLogger {
  checkOptionsObject('createLogger', options, KNOWN);
  const file = options.file === undefined ? (readEnv.logFile() ?? 'backend.log') : options.file;
  if (file !== false) checkString('createLogger', 'file', file);
  const level =
    options.level === undefined ? (readEnv.logLevel() ?? 'info') : checkOneOf('createLogger', 'level', options.level, LOG_LEVELS);
  const format =
    options.format === undefined ? (readEnv.logFormat() ?? 'text') : checkOneOf('createLogger', 'format', options.format, ['text', 'json']);
  const toConsole = options.console === undefined ? !stdoutIsFile(file) : checkBoolean('createLogger', 'console', options.console);
  const maxSize = checkInteger('createLogger', 'maxSize', options.maxSize ?? readEnv.logMaxSize() ?? 10 * 1024 * 1024, {
    min: 1024,
    unit: 'bytes',
  });
  const maxFiles = checkInteger('createLogger', 'maxFiles', options.maxFiles ?? 5, { min: 1, max: 1000 });
  const retentionDays = checkInteger('createLogger', 'retentionDays', options.retentionDays ?? 10, { min: 1, max: 3650 });

  if (options.fileMode !== undefined && options.fileMode !== 0o600 && options.fileMode !== 0o640)
    throw optionError('createLogger', 'fileMode', '0o600 or 0o640', options.fileMode);
  const line = format === 'json' ? jsonLine : textLine;
  const transports: winston.transport[] = [];
  if (file !== false) {
    const filename = resolve(file);
    try {
      transports.push(
        new RotatingFileTransport({
          filename,
          maxSize,
          maxFiles,
          retentionDays,
          format: line,
          ...(options.fileMode ? { mode: options.fileMode } : {}),
        }),
      );
    } catch (error) {
      const envFile = readEnv.logFile();
      const fromEnv = options.file === undefined || (envFile !== undefined && resolve(envFile) === filename);
      throw logFileError(fromEnv, filename, error);
    }
  }
  if (toConsole) {
    transports.push(new winston.transports.Console({ format: line }));
  }
  if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));

  const logger = winston.createLogger({
    level,
    format: winston.format.combine(winston.format.errors({ stack: true }), redact(), winston.format.timestamp()),
    transports,
  }) as ClosableLogger;
  REDACTING.add(logger);

  logger.closeAndFlush = async () => {
    // Lines are written synchronously; ending the stream lets queued ones through first.
    const finished = Promise.all(logger.transports.map((t) => new Promise((done) => t.once('finish', done))));
    logger.end();
    await finished;
    for (const t of logger.transports) t.close?.();
  };
  return logger;
}

/** Logger that drops everything, for `logger: false`. */
export const silentLogger: LifelineLogger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};

/** Prefixes a logger's lines with a component name (`[health]`). */
export function componentLogger(logger: LifelineLogger, component: string): LifelineLogger {
  return {
    error: (message, meta) => logger.error(message, { component, ...meta }),
    warn: (message, meta) => logger.warn(message, { component, ...meta }),
    info: (message, meta) => logger.info(message, { component, ...meta }),
    debug: (message, meta) => logger.debug(message, { component, ...meta }),
  };
}

// The middlewares of every app in a process that log to the same file share one
// winston logger, so two writers never rotate one file. Counted so close() releases it.
const shared = new Map<string, { logger: ClosableLogger; users: number }>();

export interface LoggerHandle {
  logger: LifelineLogger;
  release(): Promise<void>;
}

/** Loggers made by createLogger(): they redact every line themselves. */
const REDACTING = new WeakSet<object>();

/**
 * A caller's own logger (pino, console, …) gets the package's lines already redacted:
 * a password in a database URL or a token in a self-ping URL must not leak through it.
 */
function redacting(logger: LifelineLogger): LifelineLogger {
  if (REDACTING.has(logger)) return logger;
  const meta = (m: Record<string, unknown> | undefined) => (m === undefined ? undefined : (redactValue(m) as Record<string, unknown>));
  return {
    error: (message, m) => logger.error(redactText(message), meta(m)),
    warn: (message, m) => logger.warn(redactText(message), meta(m)),
    info: (message, m) => logger.info(redactText(message), meta(m)),
    debug: (message, m) => logger.debug(redactText(message), meta(m)),
  };
}

/** The logger a factory uses: the caller's (redacted), none, or the shared default for `LOG_FILE`. */
export function acquireLogger(option: LifelineLogger | false | undefined): LoggerHandle {
  if (option === false) return { logger: silentLogger, release: async () => undefined };
  if (option !== undefined) return { logger: redacting(option), release: async () => undefined };
  const file = resolve(readEnv.logFile() ?? 'backend.log');
  let entry = shared.get(file);
  if (!entry) {
    entry = { logger: createLogger({ file }), users: 0 };
    shared.set(file, entry);
  }
  entry.users += 1;
  const held = entry;
  let released = false;
  return {
    logger: held.logger,
    release: async () => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users === 0) {
        shared.delete(file);
        await held.logger.closeAndFlush();
      }
    },
  };
}
