import { createRequire } from 'node:module';

type PromClient = typeof import('prom-client');

let loaded: PromClient | undefined;

/**
 * prom-client, loaded on first use and only then: an app without metrics never pays for
 * it (a rule of the package: a feature only some users need is never loaded by the others).
 * A synchronous require rather than `import()`: prom-client is CommonJS, and a synchronous
 * load lets metrics() stay a synchronous factory, counting from the first request, like
 * every other part. `METRICS=1` turns metrics on without a code change, so the load must
 * happen at run time whichever way the package was imported.
 */
export function promClient(): PromClient {
  loaded ??= createRequire(import.meta.url)('prom-client') as PromClient;
  return loaded;
}
