// Live updates of the monitor: SSE, WebSocket, and the channel layer that carries them across instances.
export { createLiveUpdates, type LiveListener, type LiveUpdates, type LiveUpdatesOptions } from './live.js';
export { statusStream, SHUTDOWN_EVENT, unauthorizedEvent, type StatusStreamOptions } from './sse.js';
export { LiveAccess, type AccessLoss, type UserActivity } from './access.js';
export { attachMonitorSockets, type MonitorSockets, type MonitorSocketsOptions } from './websocket.js';
export { CHANNEL_LAYER_TYPES, MemoryChannel, type ChannelLayer, type ChannelLayerType } from './channel.js';
export { EventLog, type EventLogOptions } from './log.js';
export { parseSocketFilter, parseStreamFilter, type SocketFilter, type StreamFilter } from './filters.js';
export type { Authenticate, LiveEvent, LivePayload, LivePing, LiveServer, LiveStatus, LiveUser } from './types.js';
export { announceServerChanges } from './announce.js';
