// @ts-check
// Two stacks compared inside one process, for a difference smaller than what separates two
// processes of the same stack: measured here, two lifeline() processes read up to 7 µs a
// request apart over ten interleaved rounds (-2.8 and +4.7 µs against a third), about 6 %.
// Each process serves the base stack twice and the variant once, on three ports; the base's
// twin gives the noise floor of the same comparison. Several processes (3 by default, so each
// app is built first, second and third once), so no one process's layout decides the figure.
import { median, sample, startServer } from './harness.js';

/**
 * @typedef {{ efficiency: number, throughput: number, cpu: number, perProcess: number[] }} Versus
 *   efficiency: base's CPU per request / this one's; throughput: this one's req/s / base's;
 *   cpu: µs a request over base; each the median over every round of every process
 *   (each round against the same round's base); perProcess: the cpu figure of each process.
 */

/**
 * @param {{ base: string, variant: string, path: string, processes: number, rounds: number,
 *   connections: number, seconds: number, warmSeconds: number }} how
 * @returns {Promise<{ baseCpu: number, variant: Versus, twin: Versus }>}
 */
export async function compareInOneProcess(how) {
  const { processes, rounds } = how;
  const options = { connections: how.connections, seconds: how.seconds, warmSeconds: how.warmSeconds };
  /** @type {Array<Array<Array<{ rps: number, cpu: number }>>>} per process, per app (base, twin, variant), per round */
  const runs = [];
  for (let p = 0; p < processes; p++) {
    // Which port each app gets, and so the order they are built and first warmed, turns with
    // each process: the app built first measured ~1 µs cheaper than its twin built second.
    const roles = [0, 1, 2].map((k) => (k + p) % 3); // 0 base, 1 twin, 2 variant
    const server = await startServer(roles.map((role) => (role === 2 ? how.variant : how.base)).join(','));
    try {
      const urls = [0, 1, 2].map((role) => (server.urls[roles.indexOf(role)] ?? '') + how.path);
      const stats = () => server.stats();
      for (const url of server.urls) await sample(stats, url + how.path, { ...options, seconds: 2 }); // warm-up: JIT, pools
      /** @type {Array<Array<{ rps: number, cpu: number }>>} */
      const apps = urls.map(() => []);
      for (let round = 0; round < rounds; round++) {
        // Rotate the order each round so no app always runs first or last.
        for (let k = 0; k < urls.length; k++) {
          const i = (k + round) % urls.length;
          apps[i]?.push(await sample(stats, urls[i] ?? '', options));
        }
      }
      runs.push(apps);
    } finally {
      await server.stop();
    }
  }
  /** @param {number} app @returns {Versus} */
  const versus = (app) => {
    /** @type {Array<{ x: { rps: number, cpu: number }, b: { rps: number, cpu: number } }>} */
    const pairs = [];
    const perProcess = [];
    for (const apps of runs) {
      const mine = apps[app] ?? [];
      const own = mine.map((x, r) => ({ x, b: apps[0]?.[r] ?? x }));
      pairs.push(...own);
      perProcess.push(median(own.map(({ x, b }) => x.cpu - b.cpu)));
    }
    return {
      efficiency: median(pairs.map(({ x, b }) => b.cpu / x.cpu)),
      throughput: median(pairs.map(({ x, b }) => x.rps / b.rps)),
      cpu: median(pairs.map(({ x, b }) => x.cpu - b.cpu)),
      perProcess,
    };
  };
  return { baseCpu: median(runs.flatMap((apps) => (apps[0] ?? []).map((s) => s.cpu))), variant: versus(2), twin: versus(1) };
}
