// Link-local and cloud metadata addresses are refused as check targets, redirect targets,
// webhook and SMS API URLs unless MONITOR_ALLOW_LINK_LOCAL allows them: at validation, at the
// lookup of a host name and at a redirect. No test here sends anything off this machine: looked-up
// answers come from an injected resolver and are fe80::1 (a connection there without a scope id
// fails in the kernel with EINVAL, so even a regression sends nothing), and a tripwire on
// http(s).request and net.connect refuses any non-loopback address literal before it reaches the network.
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net, { isIP, type AddressInfo, type LookupFunction } from 'node:net';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { guardedLookup, isLinkLocal, linkLocalAllowed } from '../../src/monitor/checks/address.js';
import { checkServer } from '../../src/monitor/checks/index.js';
import { sendSms, sendWebhook } from '../../src/monitor/notify/channels.js';
import { notifySettings } from '../../src/monitor/notify/options.js';
import { createMonitor } from '../../src/monitor/monitor.js';
import type { ServerNotification } from '../../src/monitor/notify/message.js';
import type { Server } from '../../src/monitor/types.js';
import { validateNotificationConfig, validateServer } from '../../src/monitor/validate.js';
import { startApi, type ApiHarness } from './api-helpers.js';
import { makeCert } from './certs.js';
import { DATABASES, storedServer, type TestDatabase } from './helpers.js';

const REFUSED_HOSTS = [
  '169.254.169.254',
  '169.254.0.1',
  '100.100.100.200',
  'fe80::1',
  '[fe80::1]',
  'febf::abcd',
  'fd00:ec2::254',
  '::ffff:169.254.169.254',
  '::ffff:a9fe:a9fe',
  '2852039166', // 169.254.169.254 written as one number: the URL parser and getaddrinfo read it so
];
const ALLOWED_HOSTS = ['127.0.0.1', '::1', 'localhost', '10.0.0.5', '192.168.1.10', '172.16.0.1', 'fd00::1', 'fec0::1', '169.253.255.255'];
const FIELD_ERROR = 'Link-local and cloud metadata addresses are not allowed (set MONITOR_ALLOW_LINK_LOCAL=1 to allow).';
const HINT = '(set MONITOR_ALLOW_LINK_LOCAL=1 to allow)';

/** A resolver answering from a table, recording the names it was asked. */
function resolver(answers: Record<string, string>): LookupFunction & { asked: string[] } {
  const asked: string[] = [];
  const lookup: LookupFunction = (hostname, options, callback) => {
    asked.push(hostname);
    const address = answers[hostname];
    if (address === undefined) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
    if (options.all) callback(null, [{ address, family: isIP(address) }]);
    else callback(null, address, isIP(address));
  };
  return Object.assign(lookup, { asked });
}

/** The hosts http(s).request and net.connect were asked for; an address literal off this machine throws instead. */
const requested: string[] = [];
function tripwire(host: string): void {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  requested.push(bare);
  if (isIP(bare) !== 0 && bare !== '127.0.0.1' && bare !== '::1') throw new Error(`tripwire: a connection to ${bare} was attempted`);
}
beforeEach(() => {
  requested.length = 0;
  for (const mod of [http, https] as const) {
    const real = mod.request.bind(mod) as (...args: unknown[]) => http.ClientRequest;
    vi.spyOn(mod, 'request').mockImplementation(((...args: unknown[]) => {
      tripwire(args[0] instanceof URL ? args[0].hostname : String((args[0] as http.RequestOptions).hostname));
      return real(...args);
    }) as typeof http.request);
  }
  const connect = net.connect.bind(net) as (...args: unknown[]) => net.Socket;
  vi.spyOn(net, 'connect').mockImplementation(((...args: unknown[]) => {
    tripwire(String((args[0] as net.TcpNetConnectOpts).host));
    return connect(...args);
  }) as typeof net.connect);
});
afterEach(() => {
  vi.restoreAllMocks();
});

function withEnv(value: string | undefined, run: () => void | Promise<void>) {
  return async () => {
    const before = process.env.MONITOR_ALLOW_LINK_LOCAL;
    if (value === undefined) delete process.env.MONITOR_ALLOW_LINK_LOCAL;
    else process.env.MONITOR_ALLOW_LINK_LOCAL = value;
    try {
      await run();
    } finally {
      if (before === undefined) delete process.env.MONITOR_ALLOW_LINK_LOCAL;
      else process.env.MONITOR_ALLOW_LINK_LOCAL = before;
    }
  };
}

function target(fields: Partial<Server>): Server {
  return storedServer(fields);
}

async function listen(srv: http.Server): Promise<number> {
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return (srv.address() as AddressInfo).port;
}

function close(srv: http.Server): Promise<void> {
  srv.closeAllConnections();
  return new Promise((resolve) => srv.close(() => resolve()));
}

describe('the address policy', () => {
  it('knows link-local and metadata addresses, IPv4-mapped forms included, and nothing else', () => {
    for (const host of ['169.254.169.254', '169.254.255.255', '100.100.100.200', 'fe80::1', 'febf::1', 'fe80::1%eth0', 'fd00:ec2::254']) {
      expect(isLinkLocal(host), host).toBe(true);
    }
    for (const host of ['::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:100.100.100.200', '[fe80::1]']) {
      expect(isLinkLocal(host), host).toBe(true);
    }
    for (const host of [...ALLOWED_HOSTS, '::ffff:127.0.0.1', '100.100.100.201', 'fd00:ec2::253', 'metadata.google.internal']) {
      expect(isLinkLocal(host), host).toBe(false);
    }
  });

  it('reads MONITOR_ALLOW_LINK_LOCAL as 1/0/true/false and refuses anything else naming it', () => {
    expect(linkLocalAllowed({})).toBe(false);
    expect(linkLocalAllowed({ MONITOR_ALLOW_LINK_LOCAL: '' })).toBe(false);
    for (const yes of ['1', 'true', 'TRUE', ' True ']) expect(linkLocalAllowed({ MONITOR_ALLOW_LINK_LOCAL: yes })).toBe(true);
    for (const no of ['0', 'false', 'False']) expect(linkLocalAllowed({ MONITOR_ALLOW_LINK_LOCAL: no })).toBe(false);
    for (const bad of ['yes', '2', 'on']) {
      expect(() => linkLocalAllowed({ MONITOR_ALLOW_LINK_LOCAL: bad })).toThrow(ConfigError);
      expect(() => linkLocalAllowed({ MONITOR_ALLOW_LINK_LOCAL: bad })).toThrow(
        `MONITOR_ALLOW_LINK_LOCAL must be 1, 0, true or false, got "${bad}"`,
      );
    }
    // Checked at setup: a monitor does not start with a value it cannot read.
    expect(() => notifySettings({}, { MONITOR_ALLOW_LINK_LOCAL: 'yes' })).toThrow(/MONITOR_ALLOW_LINK_LOCAL/);
  });

  it(
    'createMonitor refuses a bad MONITOR_ALLOW_LINK_LOCAL before opening the database',
    withEnv('maybe', async () => {
      await expect(createMonitor({ database: '/nonexistent-dir/never.db', logger: false })).rejects.toThrow(ConfigError);
    }),
  );

  it('the lookup guard drops link-local answers and fails when none is left; allowed, it passes them on', async () => {
    const ask = (lookup: LookupFunction, all: boolean) =>
      new Promise<{ error: NodeJS.ErrnoException | null; answer: unknown }>((resolve) =>
        lookup('metadata.test', { all }, (error, answer) => resolve({ error, answer })),
      );
    const metadata = resolver({ 'metadata.test': '169.254.169.254' });
    for (const all of [true, false]) {
      const { error } = await ask(guardedLookup(false, metadata), all);
      expect(error?.message).toBe(`refused: metadata.test resolves to 169.254.169.254, a link-local address ${HINT}`);
    }
    expect(await ask(guardedLookup(true, metadata), false)).toEqual({ error: null, answer: '169.254.169.254' });
    const mixed: LookupFunction = (_host, _options, callback) =>
      callback(null, [
        { address: '169.254.169.254', family: 4 },
        { address: '::ffff:169.254.169.254', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ]);
    expect(await ask(guardedLookup(false, mixed), true)).toEqual({ error: null, answer: [{ address: '127.0.0.1', family: 4 }] });
    expect(await ask(guardedLookup(false, mixed), false)).toEqual({ error: null, answer: '127.0.0.1' });
  });
});

describe('validation', () => {
  const ok = { name: 'api', protocol: 'http' };

  it(
    'refuses a link-local or metadata host with a field error on host, and keeps loopback and private hosts',
    withEnv(undefined, () => {
      for (const host of REFUSED_HOSTS) {
        for (const protocol of ['http', 'https', 'tcp']) {
          expect(validateServer({ ...ok, protocol, host, port: 80 }), `${protocol} ${host}`).toEqual({
            ok: false,
            errors: { host: [FIELD_ERROR] },
          });
        }
      }
      for (const host of ALLOWED_HOSTS) expect(validateServer({ ...ok, host }).ok, host).toBe(true);
    }),
  );

  it(
    'allows them with MONITOR_ALLOW_LINK_LOCAL=1 or allowLinkLocal',
    withEnv('1', () => {
      for (const host of REFUSED_HOSTS) expect(validateServer({ ...ok, host }).ok, host).toBe(true);
      expect(validateServer({ ...ok, host: '169.254.169.254' }, { allowLinkLocal: false }).ok).toBe(false);
      expect(validateNotificationConfig({ server: 1, notification_type: 'webhook', recipient: 'http://169.254.169.254/' }).ok).toBe(true);
    }),
  );

  it(
    'refuses a webhook URL on a link-local or metadata address',
    withEnv(undefined, () => {
      for (const recipient of [
        'http://169.254.169.254/latest/meta-data/',
        'https://[fe80::1]:8443/hook',
        'http://[::ffff:169.254.169.254]/',
        'http://2852039166/',
      ]) {
        expect(validateNotificationConfig({ server: 1, notification_type: 'webhook', recipient }), recipient).toEqual({
          ok: false,
          errors: { recipient: [FIELD_ERROR] },
        });
      }
      expect(validateNotificationConfig({ server: 1, notification_type: 'webhook', recipient: 'http://10.0.0.2:9000/hook' }).ok).toBe(true);
      expect(
        validateNotificationConfig(
          { server: 1, notification_type: 'webhook', recipient: 'http://169.254.169.254/' },
          { allowLinkLocal: true },
        ).ok,
      ).toBe(true);
    }),
  );

  it('refuses an SMS API URL on a link-local address, from the environment or the option', () => {
    const env = { SMS_ACCOUNT_SID: 'AC1', SMS_AUTH_TOKEN: 'token', SMS_FROM: '+15550000000' };
    expect(() => notifySettings({}, { ...env, SMS_API_URL: 'http://169.254.169.254' })).toThrow(
      expect.objectContaining({ name: 'ConfigError', variable: 'SMS_API_URL' }) as Error,
    );
    expect(() => notifySettings({}, { ...env, SMS_API_URL: 'http://169.254.169.254' })).toThrow(/^SMS_API_URL refused: 169\.254\.169\.254/);
    const sms = { url: 'http://[fe80::1]:8080', accountSid: 'AC1', authToken: 'token', from: '+15550000000' };
    expect(() => notifySettings({ sms }, {})).toThrow(/`sms\.url` to be an http\(s\) URL not on a link-local or metadata address/);
    expect(notifySettings({ sms }, { MONITOR_ALLOW_LINK_LOCAL: 'true' })).toMatchObject({ sms, allowLinkLocal: true });
    expect(notifySettings({}, { ...env, SMS_API_URL: 'http://127.0.0.1:9' }).sms?.url).toBe('http://127.0.0.1:9');
  });
});

describe('checks', () => {
  let origin: http.Server;
  let port: number;
  let arrivals = 0;
  beforeAll(async () => {
    origin = http.createServer((req, res) => {
      arrivals++;
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/to-metadata') return void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (url.pathname === '/to-mapped') return void res.writeHead(302, { location: 'http://[::ffff:169.254.169.254]/' }).end();
      if (url.pathname === '/to-name') return void res.writeHead(302, { location: `http://metadata.test:${port}/` }).end();
      res.end('ok');
    });
    port = await listen(origin);
  });
  afterAll(() => close(origin));

  it(
    'refuses a literal link-local target before connecting, for http, https and tcp',
    withEnv(undefined, async () => {
      for (const protocol of ['http', 'https', 'tcp'] as const) {
        for (const host of ['169.254.169.254', 'fe80::1', '::ffff:169.254.169.254', '100.100.100.200']) {
          const lookup = resolver({});
          const outcome = await checkServer(target({ protocol, host, port: 80 }), { lookup });
          expect(outcome, `${protocol} ${host}`).toMatchObject({ status: 'failure', status_code: null });
          expect(outcome.error_message).toMatch(
            /^refused: .* is a link-local or cloud metadata address \(set MONITOR_ALLOW_LINK_LOCAL=1 to allow\)$/,
          );
          expect(lookup.asked).toEqual([]);
        }
      }
      expect(requested).toEqual([]);
    }),
  );

  it(
    'refuses a host name whose lookup answers a link-local address: no connection is attempted',
    withEnv(undefined, async () => {
      const lookup = resolver({ 'metadata.test': 'fe80::1' });
      const message = `refused: metadata.test resolves to fe80::1, a link-local address ${HINT}`;
      for (const protocol of ['http', 'https', 'tcp'] as const) {
        const outcome = await checkServer(target({ protocol, host: 'metadata.test', port }), { lookup });
        expect(outcome, protocol).toEqual({ status: 'failure', response_time: null, status_code: null, error_message: message });
      }
      expect(lookup.asked).toEqual(['metadata.test', 'metadata.test', 'metadata.test']);
      // The same resolver is used for real: a name answering loopback is checked (allowed or not).
      const local = resolver({ 'local.test': '127.0.0.1' });
      expect(await checkServer(target({ host: 'local.test', port }), { lookup: local })).toMatchObject({
        status: 'success',
        status_code: 200,
      });
      expect(await checkServer(target({ host: 'local.test', port }), { lookup: local, allowLinkLocal: true })).toMatchObject({
        status: 'success',
      });
    }),
  );

  it(
    'refuses a redirect to a link-local address, literal or looked up, with nothing sent there',
    withEnv(undefined, async () => {
      const lookup = resolver({ 'metadata.test': 'fe80::1' });
      const before = arrivals;
      expect(await checkServer(target({ port, path: '/to-metadata' }), { lookup })).toMatchObject({
        status: 'failure',
        status_code: 302,
        error_message: `refused: redirect to 169.254.169.254, a link-local or cloud metadata address ${HINT}`,
      });
      expect(await checkServer(target({ port, path: '/to-mapped' }), { lookup })).toMatchObject({
        status: 'failure',
        status_code: 302,
        error_message: `refused: redirect to ::ffff:a9fe:a9fe, a link-local or cloud metadata address ${HINT}`,
      });
      expect(await checkServer(target({ port, path: '/to-name' }), { lookup })).toMatchObject({
        status: 'failure',
        error_message: `refused: metadata.test resolves to fe80::1, a link-local address ${HINT}`,
      });
      expect(arrivals - before).toBe(3);
      expect(requested).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', 'metadata.test']);
    }),
  );

  it(
    'with MONITOR_ALLOW_LINK_LOCAL=1 a looked-up answer is not filtered (shown with a loopback stand-in)',
    withEnv('1', async () => {
      // Allowed, the guard hands the resolver's answer over unchanged; the unguarded path connects to it.
      const lookup = resolver({ 'metadata.test': '127.0.0.1' });
      expect(await checkServer(target({ host: 'metadata.test', port }), { lookup })).toMatchObject({ status: 'success' });
      const linkLocal = resolver({ 'metadata.test': 'fe80::1' });
      // fe80::1 without a scope id: the kernel refuses the connection (EINVAL), so nothing leaves this machine.
      expect((await checkServer(target({ protocol: 'tcp', host: 'metadata.test', port }), { lookup: linkLocal })).error_message).toMatch(
        /EINVAL/,
      );
    }),
  );
});

describe('webhook and SMS deliveries', () => {
  const payload: ServerNotification = {
    type: 'server.down',
    server: target({ name: 'Billing API' }),
    status: { status: 'down' } as ServerNotification['status'],
    ping: { status: 'failure', error_message: 'connection refused' } as ServerNotification['ping'],
    timestamp: new Date(0).toISOString(),
  };
  const options = { timeout: 2000, signal: new AbortController().signal };
  let receiver: http.Server;
  let port: number;
  let received = 0;
  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      received++;
      req.resume();
      res.writeHead(204).end();
    });
    port = await listen(receiver);
  });
  afterAll(() => close(receiver));

  it('refuses a webhook URL on a link-local address, literal or looked up, and delivers to a name answering loopback', async () => {
    const lookup = resolver({ 'hook.test': 'fe80::1', 'local.test': '127.0.0.1' });
    expect(await sendWebhook('http://169.254.169.254/hook', null, 'msg_1', payload, { ...options, lookup })).toEqual({
      ok: false,
      status_code: null,
      error: `refused: 169.254.169.254 is a link-local or cloud metadata address ${HINT}`,
    });
    expect(await sendWebhook(`http://hook.test:${port}/`, null, 'msg_1', payload, { ...options, lookup })).toEqual({
      ok: false,
      status_code: null,
      error: `refused: hook.test resolves to fe80::1, a link-local address ${HINT}`,
    });
    expect(received).toBe(0);
    expect(await sendWebhook(`http://local.test:${port}/`, null, 'msg_1', payload, { ...options, lookup })).toEqual({
      ok: true,
      status_code: 204,
      error: null,
    });
    expect(received).toBe(1);
    expect(requested).toEqual(['hook.test', 'local.test']);
  });

  it('refuses an SMS API host answering a link-local address', async () => {
    const sms = { url: `http://sms.test:${port}`, accountSid: 'AC1', authToken: 'token', from: '+15550000000' };
    const lookup = resolver({ 'sms.test': 'fe80::1' });
    expect(await sendSms(sms, '+15551234567', payload, { ...options, lookup })).toMatchObject({
      ok: false,
      error: `refused: sms.test resolves to fe80::1, a link-local address ${HINT}`,
    });
  });
});

describe.each(DATABASES)('the REST API on %s', (_kind, make) => {
  let db: TestDatabase;
  let api: ApiHarness;
  beforeAll(async () => {
    db = await make();
    api = await startApi(db);
  });
  afterAll(async () => {
    await api.shutdown();
    await db.drop();
  });

  it(
    'answers 400 with a field error on host for a link-local server, and on recipient for such a webhook',
    withEnv(undefined, async () => {
      const auth = { Authorization: `Bearer ${await api.login()}` };
      const refused = await request(api.url)
        .post('/api/servers/')
        .set(auth)
        .send({ name: 'meta', protocol: 'http', host: '169.254.169.254' });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({ host: [FIELD_ERROR] });
      const created = await request(api.url)
        .post('/api/servers/')
        .set(auth)
        .send({ name: 'db', protocol: 'tcp', host: '10.0.0.5', port: 5432 });
      expect(created.status).toBe(201);
      const id = (created.body as { id: number }).id;
      const patched = await request(api.url).patch(`/api/servers/${id}/`).set(auth).send({ host: 'fd00:ec2::254' });
      expect(patched.status).toBe(400);
      expect(patched.body).toEqual({ host: [FIELD_ERROR] });
      const hook = await request(api.url)
        .post('/api/notification-configs/')
        .set(auth)
        .send({ server: id, notification_type: 'webhook', recipient: 'http://[fe80::1]/hook' });
      expect(hook.status).toBe(400);
      expect(hook.body).toEqual({ recipient: [FIELD_ERROR] });
    }),
  );
});

describe('TLS targets are refused the same way', () => {
  it(
    'an https redirect to a link-local address is refused',
    withEnv(undefined, async () => {
      const cert = makeCert();
      const srv = https.createServer(cert, (_req, res) => res.writeHead(301, { location: 'https://169.254.169.254/' }).end());
      const port = await listen(srv);
      try {
        expect(await checkServer(target({ protocol: 'https', port }), { ca: [cert.cert] })).toMatchObject({
          status: 'failure',
          status_code: 301,
          error_message: `refused: redirect to 169.254.169.254, a link-local or cloud metadata address ${HINT}`,
        });
        expect(requested).toEqual(['127.0.0.1']);
      } finally {
        await close(srv);
      }
    }),
  );
});
