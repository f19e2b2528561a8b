import type { MonitorEvents, ServerEvent } from '../events.js';
import type { MonitorStore } from '../store/index.js';
import type { LiveEvent, LiveServer } from './types.js';

type LiveServerEvent = LiveServer & { id: number };

/** A local change as the channel carries it: the id only, the row is read on receipt. */
export function serverPayload(event: ServerEvent, origin: string): LiveServer {
  const serverId = event.action === 'deleted' ? event.id : event.server.id;
  return { type: 'server', action: event.action, server_id: serverId, origin };
}

/**
 * The delivered event with the server as stored now. A change announced as created or
 * updated whose row is gone (removed meanwhile) is a deletion: every instance ends on
 * what the database holds, whatever order the announcements came in.
 */
export async function readServerEvent(store: MonitorStore, event: LiveServerEvent): Promise<LiveServerEvent> {
  const { server: _wire, ...bare } = event;
  if (event.action === 'deleted') return bare;
  const server = await store.servers.get(event.server_id);
  return server ? { ...bare, server } : { ...bare, action: 'deleted' };
}

/** Hands another instance's change to this one's monitor, which follows it as if it were made here. */
export function followRemote(events: MonitorEvents, event: LiveServerEvent): void {
  if (!event.server) return events.publish('server', { action: 'deleted', id: event.server_id, remote: true });
  const { current_status: status, ...server } = event.server;
  if (event.action === 'created' && status) events.publish('server', { action: 'created', server, status, remote: true });
  else events.publish('server', { action: 'updated', server, remote: true });
}

/** Data of an SSE `server` event and of the WebSocket's `{"type":"server"}`: the server, or `{id}` once deleted. */
export function serverEventBody(event: LiveServerEvent): { action: LiveServer['action']; server: object } {
  if (!event.server) return { action: event.action, server: { id: event.server_id } };
  // Streams reach read-only users too: a push token is read from the REST API by admins only.
  return { action: event.action, server: event.server.push_token ? { ...event.server, push_token: null } : event.server };
}

export function isServerEvent(event: LiveEvent): event is LiveServerEvent {
  return event.type === 'server';
}
