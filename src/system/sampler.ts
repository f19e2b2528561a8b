import { statfs } from 'node:fs/promises';
import os from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { failureLog, type FailureLog } from '../logging/failure-log.js';
import { silentLogger, type LifelineLogger } from '../logging/logger.js';
import { backgroundLoop, round3 } from '../time.js';
import {
  containerLimits,
  cpuModel,
  diskIo,
  filesystems,
  machineCounters,
  networkUsage,
  processDescriptors,
  type DiskIo,
  type FilesystemUsage,
  type MachineCounters,
  type NetworkUsage,
} from './machine.js';

/** What Node's built-ins cannot give, gathered on a slow cadence (see `MachineSampler`). */
export interface MachineFacts {
  cpu_model: string | null;
  filesystems: FilesystemUsage[];
  network: NetworkUsage[];
  disk_io: DiskIo | null;
  container: { memory_limit: number | null; cpu_limit: number | null };
  swap: { total: number; used: number } | null;
  open_files: { process: number | null; process_limit: number | null; system: number | null; system_max: number | null };
  /** Epoch seconds of this gathering. */
  sampled_at: number;
}

export interface SystemSample extends Partial<MachineFacts> {
  memory_usage: { total: number; available: number; used: number; percentage: number };
  cpu_usage: number;
  load_average: number[];
  process: { rss: number; heap_used: number; event_loop_delay_ms: { p50: number; p99: number } };
  disk_usage: { path: string; total: number; used: number; percentage: number };
}

export interface SamplerOptions {
  logger?: LifelineLogger;
  /** ms between two gatherings of the machine facts. Default 60000. */
  factsInterval?: number;
  /** ms before the first gathering, so startup is not slowed. Default 1000. */
  factsDelay?: number;
}

type SystemInformation = typeof import('systeminformation');
let systemInformation: Promise<SystemInformation | undefined> | undefined;

/** Loaded on the first gathering only, so `import 'express-lifeline'` stays light. */
function loadSystemInformation(): Promise<SystemInformation | undefined> {
  systemInformation ??= import('systeminformation').then(
    (m) => ((m as { default?: SystemInformation }).default ?? m) as SystemInformation,
    () => undefined,
  );
  return systemInformation;
}

/**
 * Swap and system-wide descriptors through systeminformation. Only calls that read /proc
 * on Linux (mem: /proc/meminfo, fsOpenFiles: /proc/sys/fs/file-nr); its cpu(), fsSize(),
 * fsStats(), disksIO() and networkStats() spawn lscpu, df, lsblk or cat, and elsewhere
 * nearly everything spawns, so those figures come from /proc in machine.ts instead.
 */
async function fromSystemInformation(): Promise<
  Pick<MachineFacts, 'swap'> & { files: { system: number | null; system_max: number | null } }
> {
  const none = { swap: null, files: { system: null, system_max: null } };
  if (process.platform !== 'linux') return none;
  const si = await loadSystemInformation();
  if (!si) return none;
  const [mem, files] = await Promise.all([si.mem(), si.fsOpenFiles()]);
  return {
    swap: { total: mem.swaptotal, used: mem.swapused },
    files: { system: files.allocated ?? null, system_max: files.max ?? null },
  };
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
 * reads the last sample. The figures come from Node built-ins (os, process, perf_hooks,
 * fs.statfs) every `intervalMs`; the machine facts (filesystems, network and disk
 * throughput, container limits, swap) from /proc, /sys and systeminformation every
 * `factsInterval`. No child process is spawned, not even in the background. A failing
 * sample (EMFILE when descriptors run out) is logged once and retried next tick.
 */
export class SystemSampler {
  private latest: SystemSample;
  private lastCpu: CpuTimes = cpuTimes();
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private loops: Array<{ stop(): void }> = [];
  private disk: SystemSample['disk_usage'];
  private facts: Partial<MachineFacts> = {};
  private counters: MachineCounters | undefined;
  private readonly sampling: FailureLog;
  private readonly gathering: FailureLog;
  private readonly factsInterval: number;
  private readonly factsDelay: number;

  constructor(
    private readonly diskPath: string,
    private readonly intervalMs: number,
    options: SamplerOptions = {},
  ) {
    const log = options.logger ?? silentLogger;
    this.sampling = failureLog(
      'sampling',
      (m) => log.error(m),
      (m) => log.info(m),
    );
    this.gathering = failureLog(
      'gathering machine facts',
      (m) => log.warn(m),
      (m) => log.info(m),
    );
    this.factsInterval = options.factsInterval ?? 60_000;
    this.factsDelay = options.factsDelay ?? 1000;
    this.disk = { path: diskPath, total: 0, used: 0, percentage: 0 };
    this.histogram.enable();
    this.latest = this.measure();
  }

  start(): void {
    if (this.loops.length > 0) return;
    void this.sampleDisk();
    this.loops.push(
      backgroundLoop(
        this.intervalMs,
        async () => {
          this.latest = { ...this.measure(), ...this.facts };
          await this.sampleDisk();
        },
        this.sampling,
      ),
    );
    // The first gathering comes soon after start, then on the slow cadence.
    let first = true;
    const gather = backgroundLoop(this.factsDelay, async () => {
      try {
        await this.gatherFacts();
        this.gathering.succeeded();
      } catch (error) {
        this.gathering.failed(error);
      }
      if (first && this.loops.length > 0) {
        first = false;
        gather.stop();
        this.loops.push(backgroundLoop(this.factsInterval, () => this.gatherFacts(), this.gathering));
      }
    });
    this.loops.push(gather);
  }

  stop(): void {
    for (const loop of this.loops.splice(0)) loop.stop();
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

  private async gatherFacts(): Promise<void> {
    const counters = await machineCounters();
    const [fs, container, descriptors, si] = await Promise.all([
      filesystems(),
      containerLimits(),
      processDescriptors(),
      fromSystemInformation(),
    ]);
    this.facts = {
      cpu_model: cpuModel(),
      filesystems: fs,
      network: networkUsage(counters, this.counters),
      disk_io: diskIo(counters, this.counters),
      container,
      swap: si.swap,
      open_files: { process: descriptors.open, process_limit: descriptors.limit, ...si.files },
      sampled_at: counters.at / 1000,
    };
    this.counters = counters;
    this.latest = { ...this.latest, ...this.facts };
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
