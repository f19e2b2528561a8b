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

/** What an instance publishes; the channel layer gives it its id. */
export type LivePayload = LivePing | LiveStatus;

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
