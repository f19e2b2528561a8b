import { readFileSync } from 'node:fs';
import { readdir, readFile, statfs } from 'node:fs/promises';
import os from 'node:os';

/** Counters read at one instant; throughput is the difference of two readings. */
export interface MachineCounters {
  at: number;
  network: Map<string, { rx: number; tx: number }>;
  disk: { read: number; write: number } | undefined;
}

export interface FilesystemUsage {
  mount: string;
  type: string;
  total: number;
  used: number;
  percentage: number;
}

export interface NetworkUsage {
  interface: string;
  rx_bytes: number;
  tx_bytes: number;
  /** Bytes per second since the previous sample; null on the first. */
  rx_sec: number | null;
  tx_sec: number | null;
}

export interface DiskIo {
  read_bytes: number;
  write_bytes: number;
  read_sec: number | null;
  write_sec: number | null;
}

// Kernel and virtual filesystems: not storage anyone runs out of.
const VIRTUAL = new Set([
  'proc',
  'sysfs',
  'devpts',
  'devtmpfs',
  'cgroup',
  'cgroup2',
  'securityfs',
  'pstore',
  'bpf',
  'debugfs',
  'tracefs',
  'configfs',
  'fusectl',
  'mqueue',
  'hugetlbfs',
  'autofs',
  'binfmt_misc',
  'rpc_pipefs',
  'nsfs',
  'efivarfs',
  'selinuxfs',
  'ramfs',
]);

// Network filesystems: statfs on a dead server blocks a libuv thread for as long as it is down.
const NETWORK = new Set(['nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'fuse.sshfs', 'afs', 'ceph', 'glusterfs', '9p']);

async function text(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0;
}

/** The mount points of /proc/mounts worth a statfs: local storage, each once, octal escapes decoded. */
export function parseMounts(mounts: string): Array<{ mount: string; type: string }> {
  const seen = new Set<string>();
  const out: Array<{ mount: string; type: string }> = [];
  for (const line of mounts.split('\n')) {
    const [, rawMount, type] = line.split(' ');
    if (!rawMount || !type || VIRTUAL.has(type) || NETWORK.has(type)) continue;
    // /proc/mounts escapes spaces and tabs as octal.
    const mount = rawMount.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    if (seen.has(mount)) continue;
    seen.add(mount);
    out.push({ mount, type });
  }
  return out;
}

/** Every mounted local storage filesystem (/proc/mounts + statfs, the way df does it, without spawning df). */
export async function filesystems(): Promise<FilesystemUsage[]> {
  const mounts = await text('/proc/mounts');
  if (mounts === undefined) return [];
  const out: FilesystemUsage[] = [];
  for (const { mount, type } of parseMounts(mounts)) {
    try {
      const s = await statfs(mount);
      if (s.blocks === 0) continue;
      const total = s.blocks * s.bsize;
      const used = (s.blocks - s.bfree) * s.bsize;
      out.push({ mount, type, total, used, percentage: percent(used, used + s.bavail * s.bsize) });
    } catch {
      // unmounted meanwhile, or not ours to read
    }
  }
  return out;
}

/** Byte counters per interface from the text of /proc/net/dev (loopback left out). */
export function parseNetDev(dev: string | undefined): Map<string, { rx: number; tx: number }> {
  const out = new Map<string, { rx: number; tx: number }>();
  for (const line of dev?.split('\n').slice(2) ?? []) {
    const [name, rest] = line.split(':');
    if (!name || rest === undefined || name.trim() === 'lo') continue;
    const fields = rest.trim().split(/\s+/).map(Number);
    out.set(name.trim(), { rx: fields[0] ?? 0, tx: fields[8] ?? 0 });
  }
  return out;
}

async function networkCounters(): Promise<Map<string, { rx: number; tx: number }>> {
  return parseNetDev(await text('/proc/net/dev'));
}

/**
 * Bytes read and written by whole disks from the text of /proc/diskstats: the devices
 * named in `disks` (/sys/block), not partitions, loop or ram devices.
 */
export function parseDiskstats(stats: string, disks: ReadonlySet<string>): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of stats.split('\n')) {
    const f = line.trim().split(/\s+/);
    const name = f[2];
    if (!name || !disks.has(name) || /^(loop|ram|zram|fd|nbd)\d/.test(name)) continue;
    // Sectors are 512 bytes in /proc/diskstats whatever the device's sector size.
    read += Number(f[5] ?? 0) * 512;
    write += Number(f[9] ?? 0) * 512;
  }
  return { read, write };
}

async function diskCounters(): Promise<{ read: number; write: number } | undefined> {
  const stats = await text('/proc/diskstats');
  if (stats === undefined) return undefined;
  return parseDiskstats(stats, new Set(await readdir('/sys/block').catch(() => [] as string[])));
}

export async function machineCounters(): Promise<MachineCounters> {
  return { at: Date.now(), network: await networkCounters(), disk: await diskCounters() };
}

function rate(now: number, before: number | undefined, seconds: number): number | null {
  if (before === undefined || seconds <= 0 || now < before) return null;
  return Math.round((now - before) / seconds);
}

export function networkUsage(now: MachineCounters, before: MachineCounters | undefined): NetworkUsage[] {
  const seconds = before ? (now.at - before.at) / 1000 : 0;
  return [...now.network].map(([name, c]) => {
    const b = before?.network.get(name);
    return { interface: name, rx_bytes: c.rx, tx_bytes: c.tx, rx_sec: rate(c.rx, b?.rx, seconds), tx_sec: rate(c.tx, b?.tx, seconds) };
  });
}

export function diskIo(now: MachineCounters, before: MachineCounters | undefined): DiskIo | null {
  if (!now.disk) return null;
  const seconds = before ? (now.at - before.at) / 1000 : 0;
  return {
    read_bytes: now.disk.read,
    write_bytes: now.disk.write,
    read_sec: rate(now.disk.read, before?.disk?.read, seconds),
    write_sec: rate(now.disk.write, before?.disk?.write, seconds),
  };
}

/**
 * The limits from the texts of the cgroup files (undefined when a file is absent): v2's
 * memory.max, else v1's memory.limit_in_bytes, and v2's cpu.max; null when there is none.
 */
export function parseCgroupLimits(files: {
  memoryMax?: string | undefined;
  memoryLimitInBytes?: string | undefined;
  cpuMax?: string | undefined;
}): {
  memory_limit: number | null;
  cpu_limit: number | null;
} {
  let memory: number | null = null;
  const v2 = files.memoryMax?.trim();
  const v1 = v2 === undefined ? files.memoryLimitInBytes?.trim() : undefined;
  const rawMemory = v2 ?? v1;
  // v1 writes "no limit" as a huge number near 2^63.
  if (rawMemory && rawMemory !== 'max' && Number(rawMemory) < 2 ** 60) memory = Number(rawMemory);
  let cpu: number | null = null;
  const cpuMax = files.cpuMax?.trim().split(/\s+/);
  if (cpuMax && cpuMax[0] !== 'max' && cpuMax[1]) cpu = Math.round((Number(cpuMax[0]) / Number(cpuMax[1])) * 100) / 100;
  return { memory_limit: memory, cpu_limit: cpu };
}

/** The limits a container runtime sets through cgroups (v2, then v1); null when there is none. */
export async function containerLimits(): Promise<{ memory_limit: number | null; cpu_limit: number | null }> {
  const memoryMax = await text('/sys/fs/cgroup/memory.max');
  // v1's file is read only without v2's, as before.
  const memoryLimitInBytes = memoryMax === undefined ? await text('/sys/fs/cgroup/memory/memory.limit_in_bytes') : undefined;
  return parseCgroupLimits({ memoryMax, memoryLimitInBytes, cpuMax: await text('/sys/fs/cgroup/cpu.max') });
}

/** The CPU model as the OS names it (Node reads /proc/cpuinfo; systeminformation's cpu() would spawn lscpu). */
export function cpuModel(): string | null {
  return os.cpus()[0]?.model.trim() || null;
}

/** The soft RLIMIT_NOFILE of this process (Linux, from /proc; a small synchronous read); undefined elsewhere. */
export function descriptorLimit(): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}

/** The soft limit of "Max open files" in the text of /proc/<pid>/limits; undefined for "unlimited" or none. */
export function parseOpenFilesLimit(limits: string): number | undefined {
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  const n = Number(soft);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Descriptors this process holds, and its soft limit (EMFILE comes when they meet). */
export async function processDescriptors(): Promise<{ open: number | null; limit: number | null }> {
  const open = await readdir('/proc/self/fd').then(
    (fds) => fds.length - 1, // readdir's own descriptor
    () => null,
  );
  return { open, limit: descriptorLimit() ?? null };
}
