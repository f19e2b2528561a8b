// Type-level tests of the monitor's web entry points: `npm run typecheck` fails if they drift.
import express, { type Express } from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import { createMonitorApp, monitor, type Monitor, type MonitorApp, type MonitorMiddleware } from '../../src/monitor/index.js';

describe('monitor web entry points, types', () => {
  it('monitor() is middleware for app.use with ready and close; createMonitorApp gives an Express app', () => {
    const app = express();
    expectTypeOf(monitor).returns.toEqualTypeOf<MonitorMiddleware>();
    expectTypeOf<MonitorMiddleware['ready']>().toEqualTypeOf<Promise<Monitor>>();
    expectTypeOf<MonitorMiddleware['close']>().toEqualTypeOf<() => Promise<void>>();
    // Never called: only the types are checked (a call would open a database).
    const uses = () => app.use(monitor({ database: 'x.db' }));
    expectTypeOf(uses).returns.toEqualTypeOf<Express>();
    expectTypeOf(createMonitorApp).returns.resolves.toEqualTypeOf<MonitorApp>();
    expectTypeOf<MonitorApp['app']>().toEqualTypeOf<Express>();
    const misuses = () => {
      // @ts-expect-error secret is a string
      monitor({ secret: 42 });
      // @ts-expect-error unknown option
      void createMonitorApp({ dashbord: false });
    };
    expectTypeOf(misuses).toBeFunction();
  });
});
