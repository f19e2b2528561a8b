// Assertions on the answer: keyword absent, a JSON path's value, DNS records from a real
// DNS server on 127.0.0.1; each failure names the assertion that failed.
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkServer } from '../../src/monitor/checks/index.js';
import { parseJsonPath } from '../../src/monitor/checks/json-path.js';
import { openStore } from '../../src/monitor/store/index.js';
import type { Server } from '../../src/monitor/types.js';
import { validateServer } from '../../src/monitor/validate.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import { DATABASES } from './helpers.js';

function server(fields: Record<string, unknown>): Server {
  const checked = validateServer({ name: 'target', protocol: 'http', host: '127.0.0.1', timeout: 2, ...fields });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return { ...checked.value, depends_on: [], id: 1, push_token: null, created_at: '', updated_at: '' };
}

describe('HTTP assertions against a real local server', () => {
  let srv: http.Server;
  let port: number;
  beforeAll(async () => {
    srv = http.createServer((req, res) => {
      if (req.url === '/health')
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"status":"degraded","checks":[{"name":"db","ok":true,"ms":3}],"a.b":"dotted"}');
      if (req.url === '/text') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>All good</h1>');
      if (req.url === '/error-page') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Fatal error</h1>');
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(`{"pad":"${'x'.repeat(1100 * 1024)}","status":"healthy"}`);
      }
      res.writeHead(404).end();
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    port = (srv.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => srv.close(() => r())));

  it('keyword_mode absent fails when the keyword is there and passes when it is not', async () => {
    const bad = await checkServer(server({ port, path: '/error-page', keyword: 'Fatal error', keyword_mode: 'absent' }));
    expect(bad).toMatchObject({
      status: 'failure',
      status_code: 200,
      error_message: 'keyword "Fatal error" found in the response (keyword_mode absent)',
    });
    expect(await checkServer(server({ port, path: '/text', keyword: 'Fatal error', keyword_mode: 'absent' }))).toMatchObject({
      status: 'success',
    });
    // The default stays: the keyword must be there.
    expect(await checkServer(server({ port, path: '/text', keyword: 'Fatal error' }))).toMatchObject({
      status: 'failure',
      error_message: 'keyword "Fatal error" not found in the response',
    });
  });

  it('json_path + json_expected: equal passes, another value, a missing path, a non-JSON or too large answer each say so', async () => {
    expect(await checkServer(server({ port, path: '/health', json_path: '$.status', json_expected: 'degraded' }))).toMatchObject({
      status: 'success',
    });
    expect(await checkServer(server({ port, path: '/health', json_path: '$.status', json_expected: 'healthy' }))).toMatchObject({
      status: 'failure',
      status_code: 200,
      error_message: 'json_path $.status: expected "healthy", got "degraded"',
    });
    expect(await checkServer(server({ port, path: '/health', json_path: '$.checks[0].ok', json_expected: 'true' }))).toMatchObject({
      status: 'success',
    });
    expect(await checkServer(server({ port, path: '/health', json_path: '$.checks[0].ms', json_expected: '5' }))).toMatchObject({
      error_message: 'json_path $.checks[0].ms: expected "5", got "3"',
    });
    expect(await checkServer(server({ port, path: '/health', json_path: "$['a.b']", json_expected: 'dotted' }))).toMatchObject({
      status: 'success',
    });
    expect(await checkServer(server({ port, path: '/health', json_path: '$.checks[3].name' }))).toMatchObject({
      error_message: 'json_path $.checks[3].name: not found in the response',
    });
    expect(await checkServer(server({ port, path: '/text', json_path: '$.status', json_expected: 'ok' }))).toMatchObject({
      error_message: 'json_path $.status: the response is not JSON',
    });
    expect(await checkServer(server({ port, path: '/big', json_path: '$.status', json_expected: 'healthy' }))).toMatchObject({
      error_message: 'json_path $.status: the response is larger than 1 MiB',
    });
  });

  it('validates the assertion fields', () => {
    expect(parseJsonPath('$.a[0]["b c"].d')).toEqual(['a', 0, 'b c', 'd']);
    for (const bad of ['status', '$..a', '$.a[*]', '$[?(@.a)]']) expect(parseJsonPath(bad), bad).toBeNull();
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ json_path: '$..deep' }, 'json_path', /Enter a path like/],
      [{ json_expected: 'ok' }, 'json_path', /required with json_expected/],
      [{ keyword_mode: 'maybe' }, 'keyword_mode', /not a valid choice/],
      [{ protocol: 'dns', host: 'example.com', dns_record_type: 'SRV' }, 'dns_record_type', /not a valid choice/],
      [{ protocol: 'dns', host: 'example.com', dns_server: 'dns.google' }, 'dns_server', /IP address/],
      [{ protocol: 'dns', host: 'example.com', dns_server: '169.254.169.254' }, 'dns_server', /link-local/i],
      // Bare IPv6 addresses are the whole address, not an address and a port.
      [{ protocol: 'dns', host: 'example.com', dns_server: 'fe80::53' }, 'dns_server', /link-local/i],
      [{ protocol: 'dns', host: 'example.com', dns_server: 'fd00:ec2::254' }, 'dns_server', /link-local/i],
      [{ protocol: 'dns', host: 'example.com', dns_server: '[fe80::53]:53' }, 'dns_server', /link-local/i],
    ];
    for (const [fields, field, message] of cases) {
      const checked = validateServer({ name: 'x', protocol: 'http', host: '127.0.0.1', ...fields });
      expect(checked.ok, JSON.stringify(fields)).toBe(false);
      if (!checked.ok) expect(checked.errors[field]?.[0], JSON.stringify(fields)).toMatch(message);
    }
    expect(validateServer({ name: 'x', protocol: 'dns', host: 'example.com' })).toMatchObject({
      value: { port: 53, dns_record_type: 'A', dns_server: null, path: '/' },
    });
  });
});

describe('dns checks against a DNS server on 127.0.0.1', () => {
  let dns: DnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({
      'app.test': {
        A: ['10.0.0.7', '10.0.0.8'],
        AAAA: ['2001:db8::7'],
        MX: [{ priority: 10, exchange: 'mail.app.test' }],
        TXT: [['v=spf1 ', '-all'], ['site-verification=abc']],
      },
      'www.app.test': { CNAME: ['app.test'] },
    });
  });
  afterAll(() => dns.close());
  const dnsServer = (fields: Record<string, unknown>) => server({ protocol: 'dns', host: 'app.test', dns_server: dns.address, ...fields });

  it('passes when the expected value is among the answers, for each record type', async () => {
    const cases: Array<[string, string, string]> = [
      ['A', 'app.test', '10.0.0.8'],
      ['AAAA', 'app.test', '2001:db8::7'],
      ['CNAME', 'www.app.test', 'APP.test.'],
      ['MX', 'app.test', 'mail.app.test'],
      ['MX', 'app.test', '10 mail.app.test'],
      ['TXT', 'app.test', 'v=spf1 -all'],
    ];
    for (const [type, host, expected] of cases) {
      const outcome = await checkServer(dnsServer({ host, dns_record_type: type, dns_expected: expected }));
      expect(outcome, `${type} ${expected}`).toMatchObject({ status: 'success', status_code: null, error_message: null });
      expect(outcome.response_time).toBeGreaterThan(0);
    }
    expect(dns.queries).toContain('MX app.test');
  });

  it('says which assertion failed: another value, no such name, no records, no answer in time', async () => {
    expect(await checkServer(dnsServer({ dns_expected: '10.0.0.9' }))).toMatchObject({
      status: 'failure',
      error_message: 'dns_expected: expected "10.0.0.9" among the A answers, got "10.0.0.7", "10.0.0.8"',
    });
    expect(await checkServer(dnsServer({ host: 'gone.test' }))).toMatchObject({
      status: 'failure',
      error_message: 'dns A gone.test: no such name (NXDOMAIN)',
    });
    expect(await checkServer(dnsServer({ host: 'www.app.test', dns_record_type: 'A' }))).toMatchObject({
      status: 'failure',
      error_message: 'dns A www.app.test: no records',
    });
    expect(await checkServer(dnsServer({ host: 'slow.app.test', timeout: 0.5 }))).toMatchObject({
      status: 'timeout',
      error_message: 'dns A slow.app.test: no answer within 0.5 s',
    });
  });
});

describe.each(DATABASES)('assertion fields stored on %s', (_kind, make) => {
  it('keeps keyword_mode, json_path, json_expected and the dns fields', async () => {
    const db = await make();
    const store = await openStore({ database: db.url });
    try {
      const web = validateServer({
        name: 'web',
        protocol: 'https',
        host: 'example.com',
        keyword: 'Error',
        keyword_mode: 'absent',
        json_path: '$.status',
        json_expected: 'healthy',
      });
      const dns = validateServer({
        name: 'dns',
        protocol: 'dns',
        host: 'example.com',
        dns_record_type: 'MX',
        dns_expected: 'mx.example.com',
        dns_server: '127.0.0.1:5353',
      });
      if (!web.ok || !dns.ok) throw new Error('invalid');
      const a = await store.servers.create(web.value);
      const b = await store.servers.create(dns.value);
      expect(await store.servers.get(a.id)).toMatchObject({
        keyword_mode: 'absent',
        json_path: '$.status',
        json_expected: 'healthy',
        dns_record_type: null,
      });
      expect(await store.servers.get(b.id)).toMatchObject({
        protocol: 'dns',
        port: 53,
        dns_record_type: 'MX',
        dns_expected: 'mx.example.com',
        dns_server: '127.0.0.1:5353',
      });
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
