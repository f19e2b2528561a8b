import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checks,
  ConfigError,
  corsSecurity,
  createLogger,
  errorHandler,
  health,
  keepAlive,
  lifeline,
  loadConfig,
  runCluster,
  serve,
  ServiceManager,
} from '../src/index.js';
import { isProduction, readEnv } from '../src/options.js';

const scratch = mkdtempSync(join(tmpdir(), 'lifeline-options-'));
const aFile = join(scratch, 'a-file');
writeFileSync(aFile, '');
import { defaultMaxConnections } from '../src/lifecycle/server-limits.js';

type Factory = (options: never) => unknown;

const invalid: Array<[string, Factory, unknown, RegExp]> = [
  ['keepAlive', keepAlive, { interval: -1 }, /^keepAlive: expected `interval` to be an integer >= 0 \(ms, 0 = off\), got -1$/],
  ['keepAlive', keepAlive, { interval: '30s' }, /`interval`.*got '30s'/],
  ['keepAlive', keepAlive, { slowRequestMs: 1.5 }, /`slowRequestMs`/],
  ['keepAlive', keepAlive, { selfPingUrl: 'ftp://x' }, /`selfPingUrl` to be an absolute http\(s\) URL/],
  ['keepAlive', keepAlive, { logger: 'console' }, /`logger`/],
  ['keepAlive', keepAlive, { intervall: 5 }, /unknown option `intervall`; known options: interval/],
  ['keepAlive', keepAlive, 'fast', /expected options to be an object, got 'fast'/],
  ['health', health, { maxage: 10 }, /unknown option `maxage`; did you mean `maxAge`\?/],
  ['health', health, { timeout: 0 }, /`timeout` to be an integer >= 1/],
  ['health', health, { initialWait: -1 }, /`initialWait` to be an integer >= 0 \(ms\), got -1/],
  ['health', health, { details: 'sometimes' }, /`details` to be one of 'always', 'never', 'authorized', got 'sometimes'/],
  ['health', health, { prefix: 'api' }, /`prefix` to be a path like '\/api'/],
  ['health', health, { prefix: '/api/' }, /`prefix`/],
  ['health', health, { checks: { db: 'select 1' } }, /`checks.db` to be an async function or \{ check, critical, timeout \}/],
  ['health', health, { checks: { db: { check: async () => undefined, critical: 'yes' } } }, /`checks.db.critical` to be a boolean/],
  ['health', health, { checks: { db: { check: async () => undefined, timeout: -5 } } }, /`checks.db.timeout`/],
  ['health', health, { thresholds: { memory: 'high' } }, /`thresholds.memory`/],
  ['health', health, { thresholds: { cpu: 5 } }, /unknown option `cpu`/],
  ['health', health, { token: '' }, /`token` to be a non-empty string/],
  ['corsSecurity', corsSecurity, { frontendUrl: 'localhost:3000' }, /`frontendUrl` to be origins like/],
  ['corsSecurity', corsSecurity, { frontendUrl: 'http://localhost:3000/app' }, /`frontendUrl`/],
  ['corsSecurity', corsSecurity, { frontendUrl: ['*', 'http://a.example'] }, /either '\*' alone/],
  ['corsSecurity', corsSecurity, { frontendUrl: '*', credentials: true }, /`credentials` cannot be true with frontendUrl '\*'/],
  ['corsSecurity', corsSecurity, { maxAge: 1e9 }, /`maxAge` to be an integer 0-86400/],
  ['corsSecurity', corsSecurity, { methods: 'GET' }, /`methods` to be an array of non-empty strings/],
  ['corsSecurity', corsSecurity, { helmet: 'on' }, /`helmet` to be helmet options or false/],
  ['errorHandler', errorHandler, { exposeStack: 'yes' }, /`exposeStack` to be a boolean/],
  ['lifeline', lifeline, { health: 'yes' }, /`health` to be true, false or an options object/],
  ['lifeline', lifeline, { health: false, database: {} as never }, /need `health` enabled/],
  ['lifeline', lifeline, { keepAlive: { interval: -1 } }, /^keepAlive: expected `interval`/],
  [
    'keepAlive',
    keepAlive,
    { logger: { warn: () => undefined } },
    /^keepAlive: expected `logger` to be a logger with error\/warn\/info\/debug methods, or false/,
  ],
  ['health', health, { logger: 'console' }, /^health: expected `logger`/],
  [
    'corsSecurity',
    corsSecurity,
    { logger: true },
    /^corsSecurity: expected `logger` to be a logger with error\/warn\/info\/debug methods, or false, got true$/,
  ],
  ['errorHandler', errorHandler, { logger: { error: 1 } }, /^errorHandler: expected `logger` to be a logger/],
  ['createLogger', createLogger, { level: 'loud' }, /`level` to be one of 'error'/],
  ['createLogger', createLogger, { maxSize: 10 }, /`maxSize` to be an integer >= 1024/],
  ['createLogger', createLogger, { file: scratch, console: false }, /^createLogger: cannot write `file` .* \(EISDIR, it is a directory\)$/],
  [
    'createLogger',
    createLogger,
    { file: join(aFile, 'backend.log'), console: false },
    /^createLogger: cannot write `file` .*a-file\/backend\.log \((ENOTDIR|EEXIST), a parent of it is not a directory\)$/,
  ],
];

describe('invalid factory options throw a TypeError naming the option', () => {
  it.each(invalid)('%s(%j)', (_name, factory, options, message) => {
    expect(() => factory(options as never)).toThrow(TypeError);
    expect(() => factory(options as never)).toThrow(message);
  });

  const listener = () => undefined;
  const invalidServe: Array<[unknown, RegExp]> = [
    [{ maxConnections: -1 }, /^serve: expected `maxConnections` to be an integer >= 1, got -1$/],
    [{ maxConnections: 1.5 }, /`maxConnections`/],
    [{ maxconnections: 10 }, /unknown option `maxconnections`; did you mean `maxConnections`\?/],
    [{ headersTimeout: 0 }, /^serve: expected `headersTimeout` to be an integer >= 1 \(ms\), got 0$/],
    [{ requestTimeout: '30s' }, /^serve: expected `requestTimeout` to be an integer >= 0 \(ms, 0 = off\), got '30s'$/],
    [{ keepAliveTimeout: -5 }, /^serve: expected `keepAliveTimeout` to be an integer >= 1 \(ms\), got -5$/],
    [{ logger: console.log }, /^serve: expected `logger` to be a logger with error\/warn\/info\/debug methods, or false/],
    [{ signals: 'SIGTERM' }, /^serve: expected `signals` to be false or an array of signal names like 'SIGTERM', got 'SIGTERM'$/],
    [{ signals: ['SIGTREM'] }, /^serve: expected `signals` to be false or an array of signal names/],
    [{ host: 'http://localhost' }, /^serve: expected `host` to be/],
    [
      { headersTimeout: 40_000, requestTimeout: 30_000 },
      /^serve: expected `headersTimeout` to be at most requestTimeout \(30000 ms\), got 40000$/,
    ],
  ];
  it.each(invalidServe)('serve(app, %j)', async (options, message) => {
    await expect(serve(listener, { port: 0, logger: false, ...(options as object) })).rejects.toThrow(TypeError);
    await expect(serve(listener, { port: 0, logger: false, ...(options as object) })).rejects.toThrow(message);
  });

  it('runCluster checks the server limits before forking', async () => {
    await expect(runCluster({ entry: 'app.js', port: 8000, logger: false, requestTimeout: -1 })).rejects.toThrow(
      /^cluster: expected `requestTimeout` to be an integer >= 0 \(ms, 0 = off\), got -1$/,
    );
  });

  it('runCluster refuses an onReload that is not a function before forking', async () => {
    await expect(runCluster({ entry: 'app.js', port: 1, logger: false, onReload: '.backend.reload.json' as never })).rejects.toThrow(
      /^cluster: expected `onReload` to be a function, got '.backend.reload.json'$/,
    );
  });

  it('runCluster checks its host and logger before forking', async () => {
    await expect(runCluster({ entry: 'app.js', port: 8000, logger: false, host: 'bad host' })).rejects.toThrow(
      /^cluster: expected `host` to be/,
    );
    await expect(runCluster({ entry: 'app.js', port: 8000, logger: 'console' as never })).rejects.toThrow(
      /^cluster: expected `logger` to be a logger with error\/warn\/info\/debug methods, or false, got 'console'$/,
    );
  });

  const invalidServiceManager: Array<[unknown, RegExp]> = [
    [{ host: 'a b' }, /^ServiceManager: expected `host` to be/],
    [{ host: 8000 }, /^ServiceManager: expected `host` to be/],
    [{ cwd: join(scratch, 'missing') }, /^ServiceManager: expected `cwd` to be an existing directory, got '.*missing'$/],
    [{ cwd: aFile }, /^ServiceManager: expected `cwd` to be an existing directory/],
    [{ env: ['A=1'] }, /^ServiceManager: expected `env` to be an object of strings/],
    [{ env: { PORT: 8000 } }, /^ServiceManager: expected `env.PORT` to be a string, got 8000$/],
    [{ maxRestartAttempts: 3, maxRestarts: 3 }, /^ServiceManager: `maxRestartAttempts` is another name for `maxRestarts`; give one/],
    [{ startupTimeout: 0 }, /^ServiceManager: expected `readyTimeout` to be an integer >= 1 \(ms\), got 0$/],
    [{ maxRestartsAttempts: 3 }, /^ServiceManager: unknown option `maxRestartsAttempts`/],
    [{ maxRestartDelay: -1 }, /^ServiceManager: expected `maxRestartDelay` to be an integer >= 0 \(ms\), got -1$/],
  ];
  it.each(invalidServiceManager)('new ServiceManager(%j)', (options, message) => {
    const make = () => new ServiceManager({ command: 'node', port: 8000, ...(options as object) });
    expect(make).toThrow(TypeError);
    expect(make).toThrow(message);
  });

  it('ServiceManager takes an existing cwd and an env of strings', () => {
    expect(() => new ServiceManager({ command: 'node', port: 8000, cwd: scratch, env: { A: '1' }, host: '::1' })).not.toThrow();
  });

  it('the default maxConnections leaves descriptors for everything else', () => {
    expect(defaultMaxConnections(1024)).toBe(768);
    expect(defaultMaxConnections(256)).toBe(192);
    expect(defaultMaxConnections(65_536)).toBe(49_152);
    expect(defaultMaxConnections(100)).toBe(36);
    expect(defaultMaxConnections(undefined)).toBe(768);
  });

  it('catches app.use(keepAlive) without the call', () => {
    const fakeRequest = { socket: {}, headers: {}, method: 'GET' };
    expect(() => keepAlive(fakeRequest as never)).toThrow(/write app.use\(keepAlive\(\)\), not app.use\(keepAlive\)/);
  });

  it('rejects checks that are not knex or directories', () => {
    expect(() => checks.knex({} as never)).toThrow(/checks.knex: expected a knex instance/);
    expect(() => checks.knex(null as never)).toThrow(TypeError);
    expect(() => checks.staticFiles('' as never)).toThrow(/checks.staticFiles: expected `dir` to be a non-empty string/);
  });

  it('never mutates the caller’s options', () => {
    const options = Object.freeze({ interval: 0, logger: false as const });
    const mw = lifeline(
      Object.freeze({
        keepAlive: options,
        health: Object.freeze({ interval: 0, logger: false as const }),
        cors: { logger: false as const },
      }),
    );
    expect(options).toEqual({ interval: 0, logger: false });
    return mw.close();
  });
});

describe('environment variables', () => {
  it('loadConfig applies the defaults of the design', () => {
    expect(loadConfig({})).toEqual({
      port: 8000,
      host: '127.0.0.1',
      nodeEnv: 'development',
      production: false,
      frontendUrls: undefined,
      databaseUrl: undefined,
      logFile: 'backend.log',
      logLevel: 'info',
      logFormat: 'text',
      healthToken: undefined,
      keepAliveInterval: 30_000,
      workers: 1,
      maxConnections: undefined,
      headersTimeout: undefined,
      requestTimeout: 30_000,
      keepAliveTimeout: 5000,
      accessLog: undefined,
      healthMounts: {},
      logMaxSize: 10 * 1024 * 1024,
      logFileMode: 0o600,
      metrics: undefined,
      metricsPath: '/metrics',
      metricsToken: undefined,
    });
  });

  it('loadConfig reads valid values', () => {
    const config = loadConfig({
      PORT: '9000',
      FRONTEND_URL: 'https://a.example/,http://localhost:3000',
      LOG_LEVEL: 'DEBUG',
      LOG_FORMAT: 'json',
      KEEP_ALIVE_INTERVAL: '0',
      WORKERS: 'auto',
      NODE_ENV: 'production',
      ACCESS_LOG: 'off',
      HEALTH_MOUNTS: 'kubernetes, health',
      LOG_MAX_SIZE: '2048',
      LOG_FILE_MODE: '0640',
      METRICS: 'on',
      METRICS_PATH: '/internal/metrics',
      METRICS_TOKEN: 'm',
    });
    expect(config).toMatchObject({
      port: 9000,
      frontendUrls: ['https://a.example', 'http://localhost:3000'],
      logLevel: 'debug',
      logFormat: 'json',
      keepAliveInterval: 0,
      workers: 'auto',
      production: true,
      accessLog: false,
      healthMounts: { health: true, kubernetes: true },
      logMaxSize: 2048,
      logFileMode: 0o640,
      metrics: true,
      metricsPath: '/internal/metrics',
      metricsToken: 'm',
    });
  });

  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ PORT: 'eighty' }, 'PORT', /^Invalid PORT: expected a port number 0-65535, got 'eighty'$/],
    [{ PORT: '70000' }, 'PORT', /Invalid PORT/],
    [{ PORT: '-1' }, 'PORT', /Invalid PORT/],
    [{ KEEP_ALIVE_INTERVAL: '30s' }, 'KEEP_ALIVE_INTERVAL', /^Invalid KEEP_ALIVE_INTERVAL: expected a whole number of milliseconds/],
    [{ FRONTEND_URL: 'localhost:3000' }, 'FRONTEND_URL', /^Invalid FRONTEND_URL: expected comma-separated origins/],
    [{ FRONTEND_URL: 'http://ok.example,ftp://x' }, 'FRONTEND_URL', /Invalid FRONTEND_URL/],
    [{ LOG_LEVEL: 'verbose!' }, 'LOG_LEVEL', /^Invalid LOG_LEVEL: expected one of error, warn, info/],
    [{ LOG_FORMAT: 'xml' }, 'LOG_FORMAT', /Invalid LOG_FORMAT/],
    [{ WORKERS: '0' }, 'WORKERS', /Invalid WORKERS/],
    [{ MAX_CONNECTIONS: '0' }, 'MAX_CONNECTIONS', /^Invalid MAX_CONNECTIONS: expected a whole number of connections >= 1, got '0'$/],
    [{ HEADERS_TIMEOUT: 'soon' }, 'HEADERS_TIMEOUT', /^Invalid HEADERS_TIMEOUT: expected a whole number of milliseconds >= 1/],
    [{ REQUEST_TIMEOUT: '-1' }, 'REQUEST_TIMEOUT', /^Invalid REQUEST_TIMEOUT: expected a whole number of milliseconds \(0 turns it off\)/],
    [{ KEEP_ALIVE_TIMEOUT: '5s' }, 'KEEP_ALIVE_TIMEOUT', /^Invalid KEEP_ALIVE_TIMEOUT/],
    [{ METRICS: 'maybe' }, 'METRICS', /^Invalid METRICS: expected '1' or '0'/],
    [{ METRICS_PATH: 'metrics' }, 'METRICS_PATH', /^Invalid METRICS_PATH: expected a path like '\/metrics'/],
    [
      { WORKERS: '1000' },
      'WORKERS',
      /^Invalid WORKERS: expected a number of workers 1-\d+ \(4 per CPU, \d+ CPUs?; WORKERS_FORCE=1 or --force-workers allows up to 1024\) or 'auto', got '1000'$/,
    ],
    [{ WORKERS: String(4 * availableParallelism() + 1) }, 'WORKERS', /Invalid WORKERS/],
    [{ WORKERS: '2', WORKERS_FORCE: 'yes' }, 'WORKERS_FORCE', /^Invalid WORKERS_FORCE: expected '1' or '0', got 'yes'$/],
    [{ FRONTEND_URL: '*,http://a.example' }, 'FRONTEND_URL', /^Invalid FRONTEND_URL: expected either '\*' alone or a list of origins/],
    [{ FRONTEND_URL: 'http://a.example, *' }, 'FRONTEND_URL', /Invalid FRONTEND_URL/],
    [
      { HOST: 'bad_host!' },
      'HOST',
      /^Invalid HOST: expected an IP address \(127\.0\.0\.1, ::1, 0\.0\.0\.0\) or a hostname like 'localhost', got 'bad_host!'$/,
    ],
    [{ HOST: '256.1.2.3' }, 'HOST', /Invalid HOST/],
    [{ HOST: 'a..b' }, 'HOST', /Invalid HOST/],
    [{ LOG_FILE: scratch }, 'LOG_FILE', /^Invalid LOG_FILE: cannot write the log file .* \(EISDIR, it is a directory\)$/],
    [{ LOG_FILE: join(aFile, 'x.log') }, 'LOG_FILE', /\(ENOTDIR, a parent of it is not a directory\)$/],
    [{ ACCESS_LOG: 'yes' }, 'ACCESS_LOG', /^Invalid ACCESS_LOG: expected 'true' or 'false' \(also 1\/0, on\/off\), got 'yes'$/],
    [
      { HEALTH_MOUNTS: 'health,k8s' },
      'HEALTH_MOUNTS',
      /^Invalid HEALTH_MOUNTS: expected a comma-separated list of health, kubernetes, got 'health,k8s'$/,
    ],
    [{ LOG_MAX_SIZE: '10MB' }, 'LOG_MAX_SIZE', /^Invalid LOG_MAX_SIZE: expected a size in bytes, at least 1024, got '10MB'$/],
    [{ LOG_MAX_SIZE: '100' }, 'LOG_MAX_SIZE', /Invalid LOG_MAX_SIZE/],
    [{ LOG_FILE_MODE: '0644' }, 'LOG_FILE_MODE', /^LOG_FILE_MODE: expected 0600 or 0640, got `0644`$/],
    [{ HOST: '-lead.example' }, 'HOST', /Invalid HOST/],
    [{ HOST: '[::1]' }, 'HOST', /Invalid HOST/],
    [{ HOST: `${'a'.repeat(64)}.example` }, 'HOST', /Invalid HOST/],
    [{ HOST: 'http://localhost' }, 'HOST', /Invalid HOST/],
  ];
  it.each(bad)('%j stops startup with one line naming %s', (env, variable, message) => {
    try {
      loadConfig(env);
      expect.unreachable('loadConfig accepted an invalid value');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe(variable);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('loadConfig reads the server limits', () => {
    expect(
      loadConfig({ MAX_CONNECTIONS: '500', HEADERS_TIMEOUT: '10000', REQUEST_TIMEOUT: '15000', KEEP_ALIVE_TIMEOUT: '2000' }),
    ).toMatchObject({ maxConnections: 500, headersTimeout: 10_000, requestTimeout: 15_000, keepAliveTimeout: 2000 });
  });

  it('serve() fails on an invalid server-limit variable', async () => {
    process.env.REQUEST_TIMEOUT = 'forever';
    try {
      await expect(serve(() => undefined, { port: 0, logger: false })).rejects.toThrow(/^Invalid REQUEST_TIMEOUT/);
    } finally {
      delete process.env.REQUEST_TIMEOUT;
    }
  });

  it('a mistyped NODE_ENV is production; unset, development and test are not', () => {
    for (const value of ['production', 'PRODUCTION', 'prod', 'staging', 'Development'])
      expect([value, readEnv.production({ NODE_ENV: value })]).toEqual([value, true]);
    for (const value of [undefined, '', ' ', 'development', 'test'])
      expect([value, readEnv.production({ NODE_ENV: value })]).toEqual([value, false]);
    expect(isProduction(undefined)).toBe(false);
    expect(loadConfig({ NODE_ENV: 'prod' })).toMatchObject({ nodeEnv: 'prod', production: true });
    expect(readEnv.nodeEnvWarning({ NODE_ENV: 'PRODUCTION' })).toMatch(
      /^NODE_ENV='PRODUCTION' is not development, test or production: treated as production/,
    );
    for (const value of [undefined, 'development', 'test', 'production'])
      expect(readEnv.nodeEnvWarning({ NODE_ENV: value })).toBeUndefined();
  });

  it('HOST takes IP literals and RFC 1123 hostnames', () => {
    for (const host of ['127.0.0.1', '0.0.0.0', '::', '::1', 'fe80::1', 'localhost', 'api.example.com', 'my-host.local.', 'a1'])
      expect(loadConfig({ HOST: host }).host).toBe(host);
  });

  it('WORKERS_FORCE=1 allows more than 4 workers per CPU, up to 1024', () => {
    expect(loadConfig({ WORKERS: '1000', WORKERS_FORCE: '1' }).workers).toBe(1000);
    expect(loadConfig({ WORKERS: String(4 * availableParallelism()) }).workers).toBe(4 * availableParallelism());
    expect(() => loadConfig({ WORKERS: '1025', WORKERS_FORCE: '1' })).toThrow(/^Invalid WORKERS: expected a number of workers 1-1024/);
  });

  it('ConfigError is a TypeError, like a bad option', () => {
    expect(() => loadConfig({ HOST: 'x y' })).toThrow(TypeError);
  });

  it("corsSecurity() names FRONTEND_URL when it mixes '*' with origins", () => {
    process.env.FRONTEND_URL = '*,http://a.example';
    try {
      expect(() => corsSecurity({ logger: false })).toThrow(TypeError);
      expect(() => corsSecurity({ logger: false })).toThrow(
        /^Invalid FRONTEND_URL: expected either '\*' alone or a list of origins, got '\*,http:\/\/a\.example'$/,
      );
    } finally {
      delete process.env.FRONTEND_URL;
    }
  });

  it('createLogger() names LOG_FILE when the variable points at a directory', () => {
    const saved = process.env.LOG_FILE;
    process.env.LOG_FILE = scratch;
    try {
      expect(() => createLogger({ console: false })).toThrow(ConfigError);
      expect(() => createLogger({ console: false })).toThrow(
        /^Invalid LOG_FILE: cannot write the log file .* \(EISDIR, it is a directory\)$/,
      );
    } finally {
      process.env.LOG_FILE = saved;
    }
  });

  it('serve() and runCluster() reject an invalid host and too many workers at setup', async () => {
    const app = () => undefined;
    await expect(serve(app, { host: 'bad host', exit: false, logger: false })).rejects.toThrow(
      /^serve: expected `host` to be an IP address .* or a hostname like 'localhost', got 'bad host'$/,
    );
    await expect(runCluster({ entry: 'app.js', port: 1, host: '256.0.0.1', logger: false })).rejects.toThrow(/^cluster: expected `host`/);
    await expect(runCluster({ entry: 'app.js', port: 1, workers: 1000, logger: false })).rejects.toThrow(
      /^cluster: expected `workers` to be a number of workers 1-\d+ \(4 per CPU/,
    );
    await expect(runCluster({ entry: 'app.js', port: 1, workers: 1000, forceWorkers: 'yes' as never, logger: false })).rejects.toThrow(
      /`forceWorkers` to be a boolean/,
    );
  });

  it('factories fail on an invalid variable they use', () => {
    process.env.KEEP_ALIVE_INTERVAL = 'often';
    try {
      expect(() => keepAlive({ logger: false })).toThrow(/Invalid KEEP_ALIVE_INTERVAL/);
    } finally {
      delete process.env.KEEP_ALIVE_INTERVAL;
    }
  });
});
