// Type-level tests of the monitor's public types: `npm run typecheck` fails if they drift.
import { describe, expectTypeOf, it } from 'vitest';
import {
  MonitorEvents,
  validateServer,
  type Monitor,
  type PingEvent,
  type PingResult,
  type ServerInput,
  type ServerState,
  type StatusEvent,
  type Validated,
} from '../../src/monitor/index.js';

describe('monitor public types', () => {
  it('events are typed per name, and on() returns the unsubscribe function', () => {
    const events = new MonitorEvents();
    const off = events.on('status', (event) => {
      expectTypeOf(event).toEqualTypeOf<StatusEvent>();
      expectTypeOf(event.previous).toEqualTypeOf<ServerState>();
    });
    events.on('ping', (event) => expectTypeOf(event).toEqualTypeOf<PingEvent>());
    expectTypeOf(off).toEqualTypeOf<() => void>();
    // @ts-expect-error no such event
    events.on('finished', () => {});
    // @ts-expect-error a status event needs a previous state, server and ping
    events.publish('status', { status: {} });
    off();
  });

  it('validation gives back a typed record or DRF errors', () => {
    expectTypeOf(validateServer).returns.toEqualTypeOf<Validated<ServerInput>>();
    const checked = validateServer({});
    if (checked.ok) expectTypeOf(checked.value.protocol).toEqualTypeOf<'http' | 'https' | 'tcp' | 'push' | 'dns'>();
    else expectTypeOf(checked.errors).toEqualTypeOf<Record<string, string[]>>();
  });

  it('a monitor hands out its store, its hub and close()', () => {
    expectTypeOf<Monitor['events']>().toEqualTypeOf<MonitorEvents>();
    expectTypeOf<Monitor['close']>().returns.resolves.toBeVoid();
    expectTypeOf<Monitor['runNow']>().returns.resolves.items.toHaveProperty('ping').toEqualTypeOf<PingResult>();
    expectTypeOf<Monitor['store']['servers']['create']>().parameters.toEqualTypeOf<[ServerInput]>();
  });
});
