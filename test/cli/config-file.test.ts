import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError, DEFAULTS, effectiveConfig, readConfigFile } from '../../src/cli/config-file.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-config-'));
  file = join(dir, '.backend_config.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function readText(text: string) {
  writeFileSync(file, text);
  return readConfigFile(file);
}

describe('readConfigFile', () => {
  it('is empty when there is no file', () => {
    expect(readConfigFile(file)).toEqual({});
  });

  it('reads every known key, only the keys the file has', () => {
    const all = {
      host: '0.0.0.0',
      port: 3000,
      workers: 'auto',
      reload: true,
      log_level: 'debug',
      entry: 'server.js',
      max_connections: 100,
      headers_timeout: 5000,
      request_timeout: 0,
      keep_alive_timeout: 65_000,
    };
    expect(readText(JSON.stringify(all))).toEqual(all);
    expect(readText('{"port": 8080}')).toEqual({ port: 8080 });
  });

  it('refuses an unknown key, naming the known ones', () => {
    expect(() => readText('{"port": 8080, "prot": 1}')).toThrow(
      new CliError(
        `${file}: unknown key \`prot\` (known: host, port, workers, reload, log_level, entry, max_connections, headers_timeout, request_timeout, keep_alive_timeout, shed, shed_max_event_loop_delay, shed_max_concurrency, shed_min_concurrency, shed_latency_tolerance, shed_retry_after)`,
      ),
    );
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
    'refuses the inherited key %s as unknown (own keys only)',
    (key) => {
      expect(() => readText(`{"${key}": 1}`)).toThrow(new RegExp(`unknown key \`${key}\``));
    },
  );

  it.each([
    ['port', '"8000"', 'a port number 1-65535'],
    ['port', '0', 'a port number 1-65535'],
    ['port', '65536', 'a port number 1-65535'],
    ['port', '80.5', 'a port number 1-65535'],
    ['workers', '0', "a number of workers 1-1024 or 'auto'"],
    ['workers', '"all"', "a number of workers 1-1024 or 'auto'"],
    ['reload', '"yes"', 'true or false'],
    ['reload', '1', 'true or false'],
    ['host', '"not a host!"', "an IP address (127.0.0.1, ::1, 0.0.0.0) or a hostname like 'localhost'"],
    ['host', 'null', "an IP address (127.0.0.1, ::1, 0.0.0.0) or a hostname like 'localhost'"],
    ['entry', '""', 'a non-empty string'],
    ['entry', '[]', 'a non-empty string'],
    ['log_level', '"loud"', 'one of'],
    ['max_connections', '0', 'an integer >= 1'],
    ['headers_timeout', '-1', 'an integer >= 1 (ms)'],
    ['request_timeout', '-1', 'an integer >= 0 (ms, 0 = off)'],
  ])('refuses %s = %s, saying what it must be', (key, json, expected) => {
    let error: unknown;
    try {
      readText(`{"${key}": ${json}}`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toContain(`${file}: \`${key}\` must be ${expected}`);
    expect((error as Error).message).toMatch(/, got .+$/);
  });

  it('refuses broken JSON and leaves the file as it was', () => {
    const broken = '{"port": 8000,';
    expect(() => readText(broken)).toThrow(/^cannot read .*: .* \(fix it or delete it; it was left unchanged\)$/);
    expect(readFileSync(file, 'utf8')).toBe(broken);
  });

  it.each(['[]', 'null', '42', '"port"'])('refuses %s: the file must hold a JSON object', (text) => {
    expect(() => readText(text)).toThrow(`cannot read ${file}: expected a JSON object (it was left unchanged)`);
  });
});

describe('effectiveConfig', () => {
  it('takes flags over the environment over the file over the defaults', () => {
    writeFileSync(file, JSON.stringify({ port: 3000, host: '0.0.0.0', entry: 'server.js' }));
    const config = effectiveConfig({ port: 5000 }, file, { PORT: '4000', HOST: '127.0.0.1' });
    expect(config).toEqual({ ...DEFAULTS, port: 5000, host: '127.0.0.1', entry: 'server.js' });
    expect(effectiveConfig({}, join(dir, 'none.json'), {})).toEqual(DEFAULTS);
  });

  it('reports an invalid variable as a CliError', () => {
    expect(() => effectiveConfig({}, file, { PORT: 'eighty' })).toThrow(CliError);
  });
});

describe('.backend_config.json: load shedding keys', () => {
  it.each([
    ['shed', '"yes"', /`shed` must be true or false/],
    ['shed_max_event_loop_delay', '-1', /`shed_max_event_loop_delay` must be an integer >= 0 \(ms, 0 = off\)/],
    ['shed_min_concurrency', '0', /`shed_min_concurrency` must be an integer >= 1/],
    ['shed_latency_tolerance', '0.5', /`shed_latency_tolerance` must be a number 1-100/],
    ['shed_retry_after', '0', /`shed_retry_after` must be an integer 1-3600/],
  ])('checks %s', (key, value, message) => {
    expect(() => readText(`{"${key}": ${value}}`)).toThrow(message);
  });

  it('accepts valid ones', () => {
    expect(readText('{"shed": false, "shed_max_concurrency": 50, "shed_latency_tolerance": 1.5}')).toEqual({
      shed: false,
      shed_max_concurrency: 50,
      shed_latency_tolerance: 1.5,
    });
  });
});
