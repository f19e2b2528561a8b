import { describe, expect, it } from 'vitest';
import type { Server } from '../../src/monitor/types.js';
import { parseStatusRanges, validateNotificationConfig, validateServer } from '../../src/monitor/validate.js';

const ok = { name: 'api', protocol: 'http', host: 'example.com' };

function errorsOf(input: unknown, options = {}): Record<string, string[]> {
  const checked = validateServer(input, options);
  if (checked.ok) throw new Error('expected errors');
  return checked.errors;
}

describe('validateServer', () => {
  it('fills the defaults of the design', () => {
    const checked = validateServer(ok);
    expect(checked).toEqual({
      ok: true,
      value: {
        name: 'api',
        protocol: 'http',
        host: 'example.com',
        port: 80,
        path: '/',
        check_interval: 60,
        timeout: 10,
        expected_status: '200-399',
        keyword: null,
        tags: [],
        enabled: true,
        failure_threshold: 2,
        success_threshold: 1,
        degraded_threshold_ms: null,
        depends_on: [],
        keyword_mode: 'present',
        json_path: null,
        json_expected: null,
        dns_record_type: null,
        dns_expected: null,
        dns_server: null,
        grace: 60,
        schedule: null,
        timezone: null,
      },
    });
    expect(validateServer({ ...ok, protocol: 'https' })).toMatchObject({ value: { port: 443 } });
    expect(validateServer({ ...ok, check_interval: 5 })).toMatchObject({ value: { timeout: 4 } });
    expect(validateServer({ ...ok, check_interval: 1 })).toMatchObject({ value: { timeout: 0.8 } });
  });

  it('names each bad field with DRF messages', () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ ...ok, name: '' }, 'name', /may not be blank/],
      [{ ...ok, name: 'x'.repeat(201) }, 'name', /no more than 200 characters/],
      [{ protocol: 'http', host: 'a' }, 'name', /This field is required/],
      [{ ...ok, protocol: 'ftp' }, 'protocol', /"ftp" is not a valid choice/],
      [{ ...ok, port: 0 }, 'port', /greater than or equal to 1/],
      [{ ...ok, port: 65536 }, 'port', /less than or equal to 65535/],
      [{ ...ok, port: 'eighty' }, 'port', /valid integer/],
      [{ ...ok, protocol: 'tcp' }, 'port', /required for tcp/],
      [{ ...ok, check_interval: 0 }, 'check_interval', /greater than or equal to 1/],
      [{ ...ok, check_interval: 86401 }, 'check_interval', /less than or equal to 86400/],
      [{ ...ok, check_interval: 1.5 }, 'check_interval', /valid integer/],
      [{ ...ok, check_interval: 10, timeout: 11 }, 'timeout', /check_interval \(10\)/],
      [{ ...ok, timeout: 0 }, 'timeout', /greater than 0/],
      [{ ...ok, expected_status: '200-99' }, 'expected_status', /200-399/],
      [{ ...ok, expected_status: '2xx' }, 'expected_status', /200-399/],
      [{ ...ok, expected_status: '700' }, 'expected_status', /100-599/],
      [{ ...ok, tags: 'prod' }, 'tags', /Expected a list of items but got type "str"/],
      [{ ...ok, tags: ['ok', 3] }, 'tags', /non-empty string/],
      [{ ...ok, host: 'http://example.com' }, 'host', /valid host/],
      [{ ...ok, host: 'a b' }, 'host', /valid host/],
      [{ ...ok, host: 'beef:80' }, 'host', /no scheme, path or port/],
      [{ ...ok, host: 'example.com/x' }, 'host', /valid host/],
      [{ ...ok, path: 'health' }, 'path', /starts with "\/"/],
      [{ ...ok, enabled: 'maybe' }, 'enabled', /valid boolean/],
      [{ ...ok, failure_threshold: 0 }, 'failure_threshold', /greater than or equal to 1/],
      [{ ...ok, degraded_threshold_ms: -5 }, 'degraded_threshold_ms', /greater than or equal to 1/],
    ];
    for (const [input, field, message] of cases) {
      const errors = errorsOf(input);
      expect(Object.keys(errors), JSON.stringify(input)).toEqual([field]);
      expect(errors[field]![0], JSON.stringify(input)).toMatch(message);
    }
    expect(errorsOf({})).toEqual({
      name: ['This field is required.'],
      protocol: ['This field is required.'],
      host: ['This field is required.'],
    });
    expect(errorsOf('nope')).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got str.'] });
    expect(errorsOf(null)).toEqual({ non_field_errors: ['Invalid data. Expected a dictionary, but got NoneType.'] });
  });

  it('accepts IPv6 hosts, status lists and tags, trimming and de-duplicating', () => {
    const checked = validateServer({ ...ok, host: '[::1]', expected_status: '200,301-302', tags: [' prod ', 'prod', 'eu'], port: '8443' });
    expect(checked).toMatchObject({ ok: true, value: { host: '::1', expected_status: '200,301-302', tags: ['prod', 'eu'], port: 8443 } });
    expect(parseStatusRanges('200,301-302')).toEqual([
      [200, 200],
      [301, 302],
    ]);
  });

  it('patches only the given fields of an existing server', () => {
    const checked = validateServer({ ...ok, port: 8080, check_interval: 30, timeout: 5 });
    if (!checked.ok) throw new Error('invalid');
    const existing: Server = { ...checked.value, depends_on: [], id: 1, created_at: '', updated_at: '', push_token: null };
    expect(validateServer({ name: 'renamed' }, { partial: true, existing })).toMatchObject({
      ok: true,
      value: { name: 'renamed', host: 'example.com', port: 8080, check_interval: 30, timeout: 5 },
    });
    // A shorter interval pulls an implicit timeout down with it.
    expect(validateServer({ check_interval: 2 }, { partial: true, existing })).toMatchObject({ value: { timeout: 1.6 } });
    expect(errorsOf({ port: 0 }, { partial: true, existing })).toEqual({ port: ['Ensure this value is greater than or equal to 1.'] });
    // PUT (not partial) still requires every required field.
    expect(Object.keys(errorsOf({ name: 'x' }, { existing }))).toEqual(['protocol', 'host']);
  });
});

describe('validateNotificationConfig', () => {
  it('validates the recipient per type', () => {
    const good = [
      { server: 1, notification_type: 'email', recipient: 'ops@example.com' },
      { server: 1, notification_type: 'webhook', recipient: 'https://hooks.example.com/x', secret: 's' },
      { server: 1, notification_type: 'sms', recipient: '+14155550123' },
    ];
    for (const input of good) expect(validateNotificationConfig(input).ok, JSON.stringify(input)).toBe(true);
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ server: 1, notification_type: 'email', recipient: 'nope' }, 'recipient'],
      [{ server: 1, notification_type: 'webhook', recipient: 'ftp://x' }, 'recipient'],
      [{ server: 1, notification_type: 'sms', recipient: '555-1234' }, 'recipient'],
      [{ server: 1, notification_type: 'pigeon', recipient: 'x' }, 'notification_type'],
      [{ notification_type: 'email', recipient: 'a@b.co' }, 'server'],
    ];
    for (const [input, field] of bad) {
      const checked = validateNotificationConfig(input);
      expect(checked.ok ? [] : Object.keys(checked.errors), JSON.stringify(input)).toEqual([field]);
    }
  });
});
