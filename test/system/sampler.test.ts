import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { health } from '../../src/index.js';
import { SystemSampler } from '../../src/system/sampler.js';
import { express } from '../helpers/express.js';
import { memoryLogger } from '../helpers/logger.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/**
 * Counts every child process this test process starts: asynchronous ones go through
 * ChildProcess.prototype.spawn (spawn, exec, execFile, fork), synchronous ones through
 * the spawn_sync binding (execSync, spawnSync).
 */
function countSpawns(): { count(): number; restore(): void } {
  let count = 0;
  const proto = ChildProcess.prototype as unknown as { spawn(...args: unknown[]): unknown };
  const asyncSpawn = proto.spawn;
  proto.spawn = function (this: unknown, ...args: unknown[]) {
    count += 1;
    return asyncSpawn.apply(this, args);
  };
  const binding = (process as unknown as { binding(name: string): { spawn(...args: unknown[]): unknown } }).binding('spawn_sync');
  const syncSpawn = binding.spawn;
  binding.spawn = (...args: unknown[]) => {
    count += 1;
    return syncSpawn.apply(binding, args);
  };
  return {
    count: () => count,
    restore() {
      proto.spawn = asyncSpawn;
      binding.spawn = syncSpawn;
    },
  };
}

describe('SystemSampler: machine facts in the background', () => {
  it('the spawn counter sees both kinds of child process', async () => {
    const spawns = countSpawns();
    try {
      execFileSync('true');
      await once(spawn('true'), 'exit');
      expect(spawns.count()).toBe(2);
    } finally {
      spawns.restore();
    }
  });

  it('gathers filesystems, network, disk I/O, CPU model and container limits without spawning a process', async () => {
    const spawns = countSpawns();
    try {
      const sampler = new SystemSampler('/', 50, { factsDelay: 50, factsInterval: 300 });
      closers.push(() => sampler.stop());
      sampler.start();
      await new Promise((resolve) => setTimeout(resolve, 1200)); // first gathering and at least two more
      const s = sampler.current();
      expect(spawns.count()).toBe(0);
      expect(typeof s.cpu_model).toBe('string');
      expect(s.filesystems?.some((f) => f.mount === '/' && f.total > 0)).toBe(true);
      expect(Array.isArray(s.network)).toBe(true);
      for (const n of s.network ?? []) expect(n.rx_sec === null || n.rx_sec >= 0).toBe(true);
      // Throughput needs two gatherings: by now it is a number.
      if (s.network?.[0]) expect(typeof s.network[0].rx_sec).toBe('number');
      expect(s.disk_io === null || typeof s.disk_io?.read_bytes === 'number').toBe(true);
      expect(s.container).toEqual({
        memory_limit: expect.toSatisfy((v) => v === null || v > 0),
        cpu_limit: expect.toSatisfy((v) => v === null || v > 0),
      });
      expect(s.swap).toEqual({ total: expect.any(Number), used: expect.any(Number) });
      expect(s.open_files?.process).toBeGreaterThan(0);
      expect(s.open_files?.system_max).toBeGreaterThan(0);
    } finally {
      spawns.restore();
    }
  });

  it('a failing sample is logged once, and the sampler keeps going', async () => {
    const logger = memoryLogger();
    const sampler = new SystemSampler('/', 20, { logger, factsDelay: 10_000 });
    closers.push(() => sampler.stop());
    const real = process.memoryUsage;
    let ticks = 0;
    process.memoryUsage = Object.assign(() => {
      ticks += 1;
      throw Object.assign(new Error('EMFILE: too many open files, uv_resident_set_memory'), { code: 'EMFILE' });
    }, real);
    try {
      sampler.start();
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      process.memoryUsage = real;
    }
    expect(ticks).toBeGreaterThan(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(logger.text()).toMatch(
      /^error sampling failed: EMFILE: too many open files, uv_resident_set_memory \(logged once until it recovers\)\ninfo sampling recovered after \d+ failed tries$/,
    );
  });
});

describe('the detailed report carries the machine facts', () => {
  it('in system_info when details are shown, never without details', async () => {
    const h = health({ logger: false, interval: 0, maxAge: 0, details: 'authorized', token: 'secret-token' });
    closers.push(h.close);
    const app = express();
    app.use(h);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the first gathering comes 1 s after start
    // The stale snapshot answers at once and starts a refresh; the next answer has the facts.
    await request(app).get('/api/health');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const shown = await request(app).get('/api/health').set('Authorization', 'Bearer secret-token');
    const info = shown.body.system_info;
    expect(Object.keys(info)).toEqual(
      expect.arrayContaining(['cpu_model', 'filesystems', 'network', 'disk_io', 'container', 'swap', 'open_files', 'sampled_at']),
    );
    expect(info.container).toHaveProperty('memory_limit');
    const hidden = await request(app).get('/api/health');
    expect(hidden.body.system_info).toBeUndefined();
    expect(JSON.stringify(hidden.body)).not.toMatch(/filesystems|cpu_model/);
  });
});
