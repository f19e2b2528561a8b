import { describe, expect, it } from 'vitest';
import { aggregate } from '../../src/health/registry.js';
import { runCheck } from '../../src/health/run-check.js';
import type { CheckOutcome, CheckStatus } from '../../src/health/types.js';

function outcome(status: CheckStatus, critical = true): CheckOutcome {
  return { status, critical, duration_ms: 1, checked_at: 0 };
}

describe('aggregate: check outcomes to one health status', () => {
  it('is healthy with no checks and no warnings, or when every check passes', () => {
    expect(aggregate({}, [])).toBe('healthy');
    expect(aggregate({ db: outcome('pass'), queue: outcome('pass', false) }, [])).toBe('healthy');
  });

  it('is unhealthy when a critical check fails, whatever the others say', () => {
    expect(aggregate({ db: outcome('fail') }, [])).toBe('unhealthy');
    expect(aggregate({ side: outcome('warn', false), db: outcome('fail'), queue: outcome('pass') }, ['memory 95% used'])).toBe('unhealthy');
  });

  it('is degraded when only a non-critical check fails', () => {
    expect(aggregate({ db: outcome('pass'), cache: outcome('fail', false) }, [])).toBe('degraded');
  });

  it('is degraded when a check warns, critical or not', () => {
    expect(aggregate({ db: outcome('warn') }, [])).toBe('degraded');
    expect(aggregate({ cache: outcome('warn', false) }, [])).toBe('degraded');
  });

  it('is degraded when a resource threshold is crossed and every check passes', () => {
    expect(aggregate({ db: outcome('pass') }, ['disk 97% used (threshold 90%)'])).toBe('degraded');
    expect(aggregate({}, ['event loop delay p99 900 ms (threshold 500 ms)'])).toBe('degraded');
  });

  it('counts a timed-out check as failed: unhealthy when critical, degraded when not', async () => {
    const hang = { check: () => new Promise<void>(() => undefined) };
    // runCheck settles at its 20 ms deadline: the wait is the timeout under test.
    const [critical, optional] = await Promise.all([runCheck(hang, 20), runCheck({ ...hang, critical: false }, 20)]);
    expect(critical).toMatchObject({ status: 'fail', critical: true, error: 'timed out after 20 ms' });
    expect(aggregate({ db: critical }, [])).toBe('unhealthy');
    expect(aggregate({ cache: optional }, [])).toBe('degraded');
  });
});
