import type { LifelineLogger } from '../../logging/logger.js';
import { monitorFailures } from '../failures.js';
import { MissingDependencyError } from '../database.js';
import { decodeEvent, encodePayload, type ChannelLayer } from './channel.js';
import type { LiveEvent, LivePayload } from './types.js';

/** The part of an ioredis client used here (ioredis is an optional peer dependency). */
interface RedisClient {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  eval(script: string, keys: number, ...args: Array<string | number>): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
}
type RedisConstructor = new (url: string, options: Record<string, unknown>) => RedisClient;

/**
 * Numbers and publishes a batch in one script: Redis runs scripts one at a time, so ids
 * and deliveries are in the same order on every instance. A missing counter (a new Redis,
 * or one restarted without persistence) starts from the clock, above any id given before.
 * Ids are written with %.0f: Lua's own number formatting turns 16 digits into 1.7e+15.
 */
const PUBLISH_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[2]) end
local last = redis.call('INCRBY', KEYS[1], #ARGV - 2)
local first = last - (#ARGV - 2) + 1
for i = 3, #ARGV do
  redis.call('PUBLISH', ARGV[1], '{"id":' .. string.format('%.0f', first + i - 3) .. ',' .. string.sub(ARGV[i], 2))
end
return string.format('%.0f', last)`;

async function loadRedis(): Promise<RedisConstructor> {
  const name = 'ioredis';
  try {
    const module = (await import(name)) as { default: RedisConstructor };
    return module.default;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
      throw new MissingDependencyError('ioredis', 'CHANNEL_LAYER_TYPE=redis');
    throw error;
  }
}

/** The Redis to use: `REDIS_URL`, else `REDIS_HOST`/`REDIS_PORT`, else localhost:6379. */
export function redisUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REDIS_URL) return env.REDIS_URL;
  return `redis://${env.REDIS_HOST || '127.0.0.1'}:${env.REDIS_PORT || '6379'}`;
}

/** Fans events out through Redis pub/sub; ids from one INCR key. ioredis loads only when this layer is used. */
export class RedisChannel implements ChannelLayer {
  readonly type = 'redis';
  #publisher: RedisClient | undefined;
  #subscriber: RedisClient | undefined;
  #deliver: ((event: LiveEvent) => void) | undefined;

  constructor(
    private readonly url: string,
    /** Key and channel prefix: monitors sharing a Redis stay apart by name. */
    private readonly prefix: string,
    private readonly logger: LifelineLogger,
  ) {}

  get #channel(): string {
    return `${this.prefix}:events`;
  }

  async start(deliver: (event: LiveEvent) => void): Promise<void> {
    this.#deliver = deliver;
    const Redis = await loadRedis();
    const options = { lazyConnect: false, maxRetriesPerRequest: 3, enableOfflineQueue: true };
    this.#publisher = new Redis(this.url, options);
    this.#subscriber = new Redis(this.url, options);
    // ioredis reconnects by itself: each kind of error is said once, then its recovery.
    for (const [name, connection] of [
      ['publisher', this.#publisher],
      ['subscriber', this.#subscriber],
    ] as const) {
      const failures = monitorFailures(`monitor live: the Redis ${name} connection (retrying)`, this.logger);
      connection.on('error', (error: Error) => failures.failed(error));
      connection.on('ready', () => failures.succeeded());
    }
    this.#subscriber.on('message', (channel, message) => {
      if (channel !== this.#channel) return;
      const event = decodeEvent(message);
      if (event) this.#deliver?.(event);
    });
    try {
      await this.#subscriber.subscribe(this.#channel);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async publish(events: readonly LivePayload[]): Promise<void> {
    if (events.length === 0 || !this.#publisher) return;
    const seed = Date.now() * 1000;
    await this.#publisher.eval(PUBLISH_SCRIPT, 1, `${this.prefix}:seq`, this.#channel, seed, ...events.map(encodePayload));
  }

  async close(): Promise<void> {
    this.#deliver = undefined;
    const clients = [this.#publisher, this.#subscriber].filter((c): c is RedisClient => c !== undefined);
    this.#publisher = this.#subscriber = undefined;
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
