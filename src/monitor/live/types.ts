import type { ServerWithStatus } from '../store/servers.js';
import type { PingResult, ServerState, ServerStatus } from '../types.js';

/** A finished check, as live clients get it: the ping and the server's state after it. */
export interface LivePing {
  type: 'ping';
  ping: PingResult;
  status: ServerStatus;
}

/** A server's state changed (announced after the ping that changed it). */
export interface LiveStatus {
  type: 'status';
  status: ServerStatus;
  previous: ServerState;
}

/**
 * A server was created, changed or removed on some instance (or by the CLI). The wire
 * carries only its id: every instance reads the row on receipt (`server`, undefined once
 * deleted), so a payload never outgrows NOTIFY's 8000 bytes nor overtakes a later change.
 */
export interface LiveServer {
  type: 'server';
  action: 'created' | 'updated' | 'deleted';
  server_id: number;
  /** The instance that made the change: it has followed it already. */
  origin: string;
  /** The server as stored when the event arrived (with `current_status`); absent on the wire and once deleted. */
  server?: ServerWithStatus;
}

/** What an instance publishes; the channel layer gives it its id. */
export type LivePayload = LivePing | LiveStatus | LiveServer;

/** A published event with its id: one increasing sequence per monitor, shared by all instances. */
export type LiveEvent = LivePayload & { id: number };

/** The user `authenticate` resolves a token to (the API's JWT verification). */
export interface LiveUser {
  id: number;
  username: string;
  is_admin: boolean;
  /** When the credentials expire, epoch seconds (the JWT's `exp`): a stream or socket ends then. */
  exp?: number;
}

/** Resolves a bearer token to its user, or undefined when it is not valid. */
export type Authenticate = (token: string) => Promise<LiveUser | undefined>;
