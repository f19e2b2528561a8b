import { describe, expect, it } from 'vitest';
import { parseCgroupLimits, parseDiskstats, parseMounts, parseNetDev, parseOpenFilesLimit } from '../../src/system/machine.js';

describe('parseMounts (/proc/mounts)', () => {
  it('keeps local storage once each, decodes octal escapes, drops virtual and network filesystems', () => {
    const mounts = [
      '/dev/sda1 / ext4 rw,relatime 0 0',
      'proc /proc proc rw,nosuid 0 0',
      'sysfs /sys sysfs rw 0 0',
      'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0',
      'server:/export /mnt/nfs nfs4 rw 0 0',
      '//nas/share /mnt/smb cifs rw 0 0',
      '/dev/sdb1 /mnt/My\\040Disk\\011two xfs rw 0 0',
      '/dev/sda1 / ext4 rw,relatime 0 0', // bind-mounted twice
      'tmpfs /run tmpfs rw 0 0',
      '',
    ].join('\n');
    expect(parseMounts(mounts)).toEqual([
      { mount: '/', type: 'ext4' },
      { mount: '/mnt/My Disk\ttwo', type: 'xfs' },
      { mount: '/run', type: 'tmpfs' },
    ]);
  });
});

describe('parseNetDev (/proc/net/dev)', () => {
  it('reads received and sent bytes per interface, without loopback', () => {
    const dev = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo: 5000      50    0    0    0     0          0         0     5000      50    0    0    0     0       0          0',
      '  eth0: 123456   100    0    0    0     0          0         0   654321     90    0    0    0     0       0          0',
      'wlan0:7 8 0 0 0 0 0 0 9 10 0 0 0 0 0 0',
      '',
    ].join('\n');
    expect([...parseNetDev(dev)]).toEqual([
      ['eth0', { rx: 123456, tx: 654321 }],
      ['wlan0', { rx: 7, tx: 9 }],
    ]);
  });

  it('is empty without the file', () => {
    expect(parseNetDev(undefined).size).toBe(0);
  });
});

describe('parseDiskstats (/proc/diskstats)', () => {
  it('sums sectors read and written (512 bytes each) of whole disks only', () => {
    const stats = [
      '   8       0 sda 100 0 1000 0 50 0 2000 0 0 0 0',
      '   8       1 sda1 90 0 900 0 40 0 1900 0 0 0 0', // a partition: not in /sys/block
      ' 259       0 nvme0n1 10 0 10 0 5 0 20 0 0 0 0',
      '   7       0 loop0 10 0 7777 0 0 0 0 0 0 0 0', // in /sys/block, but a loop device
      '   1       0 ram0 1 0 8888 0 0 0 0 0 0 0 0',
      '',
    ].join('\n');
    expect(parseDiskstats(stats, new Set(['sda', 'nvme0n1', 'loop0', 'ram0']))).toEqual({
      read: (1000 + 10) * 512,
      write: (2000 + 20) * 512,
    });
  });
});

describe('parseCgroupLimits (cgroup v2, then v1)', () => {
  it('reads a v2 memory limit and CPU quota', () => {
    expect(parseCgroupLimits({ memoryMax: '536870912\n', cpuMax: '150000 100000\n' })).toEqual({ memory_limit: 536870912, cpu_limit: 1.5 });
  });

  it('says null for "max" (no limit) in v2', () => {
    expect(parseCgroupLimits({ memoryMax: 'max\n', cpuMax: 'max 100000\n' })).toEqual({ memory_limit: null, cpu_limit: null });
  });

  it('falls back to v1 only without v2, and treats its near-2^63 "no limit" as none', () => {
    expect(parseCgroupLimits({ memoryLimitInBytes: '1073741824\n' }).memory_limit).toBe(1073741824);
    expect(parseCgroupLimits({ memoryLimitInBytes: '9223372036854771712\n' }).memory_limit).toBeNull();
    expect(parseCgroupLimits({ memoryMax: 'max', memoryLimitInBytes: '1073741824' }).memory_limit).toBeNull();
  });

  it('is null everywhere outside a container', () => {
    expect(parseCgroupLimits({})).toEqual({ memory_limit: null, cpu_limit: null });
  });
});

describe('parseOpenFilesLimit (/proc/<pid>/limits)', () => {
  const limits = (soft: string) =>
    [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max cpu time              unlimited            unlimited            seconds   ',
      `Max open files            ${soft}                 1048576              files     `,
      'Max processes             63704                63704                processes ',
    ].join('\n');

  it('reads the soft limit of open files', () => {
    expect(parseOpenFilesLimit(limits('1024'))).toBe(1024);
  });

  it('is undefined for unlimited or a missing line', () => {
    expect(parseOpenFilesLimit(limits('unlimited'))).toBeUndefined();
    expect(parseOpenFilesLimit('Limit Soft Limit\n')).toBeUndefined();
  });
});
