import { ConfigError } from '../../errors.js';
import type { LifelineLogger } from '../../logging/logger.js';
import { checkString, optionError } from '../../options.js';
import type { MonitorStore } from '../store/index.js';
import { CHANNEL_LAYER_TYPES, MemoryChannel, type ChannelLayer, type ChannelLayerType } from './channel.js';
import { PostgresChannel } from './postgres-channel.js';
import { RedisChannel, redisUrlFromEnv } from './redis-channel.js';

export interface ChannelChoice {
  /** A layer type, a layer of the caller's, or undefined for `CHANNEL_LAYER_TYPE`, else the database's default. */
  channel?: ChannelLayerType | ChannelLayer | undefined;
  redisUrl?: string | undefined;
  redisPrefix?: string | undefined;
}

export const DEFAULT_REDIS_PREFIX = 'express-lifeline:monitor';

/** The layer type asked for: the option, else `CHANNEL_LAYER_TYPE`, else `postgres` on PostgreSQL and `memory` on SQLite. */
export function channelType(component: string, store: MonitorStore, given: ChannelChoice['channel']): ChannelLayerType | ChannelLayer {
  if (given !== undefined && typeof given === 'object') return given;
  if (given !== undefined) {
    if (!CHANNEL_LAYER_TYPES.includes(given)) throw optionError(component, 'channel', `one of ${CHANNEL_LAYER_TYPES.join(', ')}`, given);
    return given;
  }
  const env = process.env.CHANNEL_LAYER_TYPE;
  if (env) {
    if (!CHANNEL_LAYER_TYPES.includes(env as ChannelLayerType)) {
      throw new ConfigError('CHANNEL_LAYER_TYPE', `CHANNEL_LAYER_TYPE must be one of ${CHANNEL_LAYER_TYPES.join(', ')}, got "${env}"`);
    }
    return env as ChannelLayerType;
  }
  return store.dialect === 'postgres' ? 'postgres' : 'memory';
}

/** Builds (not starts) the channel layer of a monitor's store: the live updates' and the CLI's, alike. */
export function channelLayer(component: string, store: MonitorStore, choice: ChannelChoice, logger: LifelineLogger): ChannelLayer {
  const type = channelType(component, store, choice.channel);
  if (typeof type === 'object') return type;
  if (type === 'memory') return new MemoryChannel();
  if (type === 'postgres') {
    if (store.dialect !== 'postgres') throw optionError(component, 'channel', 'memory or redis on SQLite', type);
    return new PostgresChannel(store.db, logger);
  }
  const url = checkString(component, 'redisUrl', choice.redisUrl ?? redisUrlFromEnv());
  const prefix = checkString(component, 'redisPrefix', choice.redisPrefix ?? DEFAULT_REDIS_PREFIX);
  return new RedisChannel(url, prefix, logger);
}
