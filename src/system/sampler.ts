import { statfs } from 'node:fs/promises';
import os from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { round3 } from '../time.js';

export interface SystemSample {
  memory_usage: { total: number; available: number; used: number; percentage: number };
  cpu_usage: number;
  load_average: number[];
  process: { rss: number; heap_used: number; event_loop_delay_ms: { p50: number; p99: number } };
  disk_usage: { path: string; total: number; used: number; percentage: number };
}

interface CpuTimes {
  idle: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}

/**
 * Samples the machine and the process in the background, so a health request only
 * reads the last sample. Everything comes from Node built-ins (os, process,
 * perf_hooks, fs.statfs): no child process is spawned, not even in the background.
 */
export class SystemSampler {
  private latest: SystemSample;
  private lastCpu: CpuTimes = cpuTimes();
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private timer: NodeJS.Timeout | undefined;
  private disk: SystemSample['disk_usage'];

  constructor(
    private readonly diskPath: string,
    private readonly intervalMs: number,
  ) {
    this.disk = { path: diskPath, total: 0, used: 0, percentage: 0 };
    this.histogram.enable();
    this.latest = this.measure();
  }

  start(): void {
    if (this.timer) return;
    void this.sampleDisk();
    this.timer = setInterval(() => {
      this.latest = this.measure();
      void this.sampleDisk();
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.histogram.disable();
  }

  /** The last sample; cheap, no I/O. */
  current(): SystemSample {
    return this.latest;
  }

  private measure(): SystemSample {
    const total = os.totalmem();
    const available = os.freemem();
    const cpu = cpuTimes();
    const busy = cpu.total - this.lastCpu.total - (cpu.idle - this.lastCpu.idle);
    const cpuUsage = percent(busy, cpu.total - this.lastCpu.total);
    this.lastCpu = cpu;
    const mem = process.memoryUsage();
    const h = this.histogram;
    const eld = h.count > 0 ? { p50: round3(h.percentile(50) / 1e6), p99: round3(h.percentile(99) / 1e6) } : { p50: 0, p99: 0 };
    h.reset();
    return {
      memory_usage: { total, available, used: total - available, percentage: percent(total - available, total) },
      cpu_usage: cpuUsage,
      load_average: os.loadavg().map(round3),
      process: { rss: mem.rss, heap_used: mem.heapUsed, event_loop_delay_ms: eld },
      disk_usage: this.disk,
    };
  }

  private async sampleDisk(): Promise<void> {
    try {
      const s = await statfs(this.diskPath);
      const total = s.blocks * s.bsize;
      const used = (s.blocks - s.bfree) * s.bsize;
      // Like df: the share of the space a non-root user can use.
      const usable = used + s.bavail * s.bsize;
      this.disk = { path: this.diskPath, total, used, percentage: percent(used, usable) };
    } catch {
      this.disk = { path: this.diskPath, total: 0, used: 0, percentage: 0 };
    }
    this.latest = { ...this.latest, disk_usage: this.disk };
  }
}
