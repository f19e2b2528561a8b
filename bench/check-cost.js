// @ts-check
// `node bench/check-cost.js` (after `npm run build`): the monitor's own CPU per check, in µs, for
// HTTPS checks of a few targets (TLS session resumption matters here) and for plain HTTP checks of a
// target whose answer has a 1 MiB body (deciding at the status line matters). The targets run in
// a child process on the other core; only this process's CPU (process.cpuUsage) is counted.
// BENCH_CHECKS (default 2000) checks per scenario, BENCH_CHECK_CONCURRENCY (default 20) at once.
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pin } from './cpu-pinning.js';

const CHECKS = Number(process.env.BENCH_CHECKS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CHECK_CONCURRENCY ?? 20);
const TARGETS = 10;

if (process.argv[2] === 'targets') {
  // Child: TARGETS https servers (one certificate) and one http server with a 1 MiB body.
  const { key, cert } = JSON.parse(process.argv[3] ?? '{}');
  const ports = [];
  for (let i = 0; i < TARGETS; i++) {
    const srv = createHttpsServer({ key, cert }, (_req, res) => res.end('ok'));
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    ports.push(/** @type {import('node:net').AddressInfo} */ (srv.address()).port);
  }
  const big = Buffer.alloc(1024 * 1024, 'x');
  const plain = createServer((_req, res) => res.end(big));
  plain.listen(0, '127.0.0.1');
  await once(plain, 'listening');
  process.send?.({ https: ports, http: /** @type {import('node:net').AddressInfo} */ (plain.address()).port });
} else if (!process.env.BENCH_CHECK_CERT) {
  // Parent: makes the certificate, then runs the checks in a child that trusts it the way a
  // public certificate is trusted (NODE_EXTRA_CA_CERTS is read at startup), and with `ca`.
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-cert-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'key.pem',
      '-out',
      'cert.pem',
    ].concat(['-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']),
    { cwd: dir, stdio: 'ignore' },
  );
  const checker = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, BENCH_CHECK_CERT: dir, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') },
    stdio: 'inherit',
  });
  await once(checker, 'exit');
  rmSync(dir, { recursive: true, force: true });
} else {
  const dir = process.env.BENCH_CHECK_CERT;
  const pem = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  pin(process.pid, '0');
  const child = fork(fileURLToPath(import.meta.url), ['targets', JSON.stringify(pem)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  pin(child.pid, '1');
  const [ports] = /** @type {[{ https: number[], http: number }]} */ (await once(child, 'message'));
  const { checkServer } = await import('../dist/monitor/index.js');

  /** @param {number} port @param {'http' | 'https'} protocol */
  const server = (port, protocol) => ({
    ...{ id: 1, name: 't', host: '127.0.0.1', path: '/', check_interval: 60, timeout: 10, expected_status: '200-399', keyword: null },
    ...{
      tags: [],
      enabled: true,
      failure_threshold: 2,
      success_threshold: 1,
      degraded_threshold_ms: null,
      created_at: '',
      updated_at: '',
      depends_on: [],
    },
    ...{ keyword_mode: /** @type {const} */ ('present'), json_path: null, json_expected: null, dns_record_type: null, dns_expected: null },
    ...{ dns_server: null, grace: 60, schedule: null, timezone: null, push_token: null },
    protocol,
    port,
  });

  /** @param {string} name @param {(i: number) => ReturnType<typeof server>} target @param {object} context */
  async function scenario(name, target, context) {
    let next = 0;
    let failed = 0;
    const run = async () => {
      while (next < CHECKS) {
        const outcome = await checkServer(target(next++), context);
        if (outcome.status !== 'success') failed++;
      }
    };
    await Promise.all(Array.from({ length: 50 }, () => checkServer(target(0), context))); // warm-up
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, run));
    const used = process.cpuUsage(cpu);
    const seconds = (performance.now() - started) / 1000;
    const micros = (used.user + used.system) / CHECKS;
    console.log(`${name}: ${Math.round(micros)} µs CPU per check, ${Math.round(CHECKS / seconds)} checks/s, ${failed} failed`);
  }

  const secure = (/** @type {number} */ i) => server(ports.https[i % TARGETS] ?? 0, 'https');
  await scenario('https, 10 targets, system trust', secure, {});
  await scenario('https, 10 targets, extra CA (monitor option ca)', secure, { ca: [pem.cert] });
  await scenario('http, 1 MiB body, no keyword', () => server(ports.http, 'http'), {});
  child.kill();
}
