import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatPidFile, readPidFile, type PidRecord } from '../../src/cli/pid-file.js';
import { processFacts } from '../../src/cli/proc.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-pidfile-'));
  file = join(dir, '.backend.pid');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A record of this very test process: alive, same start time and command line. */
function ownRecord(): PidRecord {
  const facts = processFacts(process.pid)!;
  return {
    pid: process.pid,
    startTicks: facts.startTicks,
    cmdline: facts.cmdline,
    url: 'http://127.0.0.1:8000',
    port: 8000,
    host: '127.0.0.1',
    workers: 1,
    entry: 'app.js',
    startedAt: new Date().toISOString(),
  };
}

const NOT_OURS = { kind: 'stale', record: undefined, why: expect.stringMatching(/is not a lifeline PID file$/) };

describe('readPidFile', () => {
  it('is none when there is no file', () => {
    expect(readPidFile(file)).toEqual({ kind: 'none' });
  });

  it('reads the record on the second line, the bare pid on the first (for systemd)', () => {
    const record = ownRecord();
    const text = formatPidFile(record);
    expect(text.split('\n')[0]).toBe(String(process.pid));
    writeFileSync(file, text);
    expect(readPidFile(file)).toEqual({ kind: 'running', record });
  });

  it('ignores lines after the record', () => {
    writeFileSync(file, `${formatPidFile(ownRecord())}# edited by hand\n{"pid":1}\n`);
    expect(readPidFile(file).kind).toBe('running');
  });

  it('tolerates spaces around the bare pid', () => {
    const record = ownRecord();
    writeFileSync(file, ` ${record.pid} \n${JSON.stringify(record)}\n`);
    expect(readPidFile(file).kind).toBe('running');
  });

  it.each([
    ['empty', ''],
    ['the pid line only (an older or truncated file)', `${process.pid}\n`],
    ['the record cut in the middle', `${process.pid}\n{"pid":${process.pid},"startTicks":`],
    ['garbage', 'not a pid file at all\n\u0000\u0001\n'],
    ['the record on the first line', `${JSON.stringify({ pid: process.pid })}\n`],
    ['a first line that is not the record pid', `1\n${JSON.stringify({ pid: process.pid })}\n`],
    ['pid 0', `0\n${JSON.stringify({ pid: 0 })}\n`],
    ['a negative pid', `-5\n${JSON.stringify({ pid: -5 })}\n`],
    ['a fractional pid', `1.5\n${JSON.stringify({ pid: 1.5 })}\n`],
    ['a pid written as a string', `${process.pid}\n${JSON.stringify({ pid: String(process.pid) })}\n`],
    ['JSON null', `${process.pid}\nnull\n`],
  ])('is stale and says so for %s', (_name, text) => {
    writeFileSync(file, text);
    expect(readPidFile(file)).toEqual(NOT_OURS);
  });

  it('is stale, keeping the record, when the pid is not running', () => {
    // Above Linux's largest pid (2^22): no process can have it.
    const record = { ...ownRecord(), pid: 4_194_305 };
    writeFileSync(file, formatPidFile(record));
    expect(readPidFile(file)).toEqual({ kind: 'stale', record, why: 'pid 4194305 is not running' });
  });

  it('is stale when the pid now belongs to another process (other start time or command line)', () => {
    for (const record of [
      { ...ownRecord(), startTicks: ownRecord().startTicks + 1 },
      { ...ownRecord(), cmdline: 'node some-other-app.js' },
    ]) {
      writeFileSync(file, formatPidFile(record));
      expect(readPidFile(file)).toEqual({
        kind: 'stale',
        record,
        why: expect.stringMatching(new RegExp(`^pid ${process.pid} now belongs to another process \\(`)),
      });
    }
  });
});
