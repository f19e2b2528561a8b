import { monitorLogger } from '../default-logger.js';
import type { ServerEvent } from '../events.js';
import type { MonitorStore } from '../store/index.js';
import { channelLayer, type ChannelChoice } from './layers.js';
import { serverPayload } from './server-events.js';

const ANNOUNCE_TIMEOUT = 5000;

/**
 * Announces server changes made outside a running monitor (the CLI writes the database
 * directly) on the channel layer the running instances listen to, so they follow them at
 * once rather than at their next sync. The layer is the one `createLiveUpdates` would
 * pick (`CHANNEL_LAYER_TYPE`, `REDIS_URL`…); on the memory layer no other process listens,
 * and nothing is sent. Gives up after 5 s, throwing: the changes are stored either way.
 *
 * @example
 * const changes: ServerEvent[] = [];
 * store.events.on('server', (e) => changes.push(e));
 * await store.servers.create(input);
 * await announceServerChanges(store, changes);
 */
export async function announceServerChanges(
  store: MonitorStore,
  changes: readonly ServerEvent[],
  choice: ChannelChoice = {},
): Promise<boolean> {
  if (changes.length === 0) return false;
  const layer = channelLayer('announceServerChanges', store, choice, monitorLogger(false));
  if (layer.type === 'memory') return false;
  const origin = `cli:${process.pid}`;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer from the ${layer.type} channel layer within ${ANNOUNCE_TIMEOUT} ms`)),
      ANNOUNCE_TIMEOUT,
    );
  });
  try {
    const announce = (async () => {
      await layer.start(() => {});
      await layer.publish(changes.map((change) => serverPayload(change, origin)));
    })();
    announce.catch(() => {}); // when the timeout wins, its failure is already reported
    await Promise.race([announce, timeout]);
    return true;
  } finally {
    clearTimeout(timer);
    await layer.close();
  }
}
