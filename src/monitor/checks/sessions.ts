import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

/** Targets whose TLS session is kept, per trust list (a few KB each). */
export const MAX_SESSIONS = 20_000;
/**
 * A target gets a full handshake at least this often, so a certificate changed or
 * expired behind a server that keeps resuming old sessions is still seen. Most
 * servers end sessions sooner (nginx and Node: 5 minutes).
 */
export const FULL_HANDSHAKE_EVERY = 10 * 60_000;

interface Entry {
  session: Buffer;
  /** When this target last made a full handshake (its certificate verified). */
  verifiedAt: number;
  /** When the entry was last stored: the Map's order. */
  storedAt: number;
}

/**
 * The last TLS session of each target, so that its next check resumes it instead of
 * a full handshake. Bounded: when full, entries unused for FULL_HANDSHAKE_EVERY go
 * first, and a new target is left out rather than pushing out a used one (checks
 * come round in cycles, where evicting the oldest would never hit).
 */
export class SessionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;

  constructor(max = MAX_SESSIONS) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The session to resume, unless it is due for a full handshake. */
  get(key: string, now = Date.now()): Buffer | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (now - entry.verifiedAt >= FULL_HANDSHAKE_EVERY) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.session;
  }

  /** Keeps a target's new session; `resumed`: its handshake resumed the previous one (not verified anew). */
  set(key: string, session: Buffer, resumed: boolean, now = Date.now()): void {
    const previous = this.#entries.get(key);
    const verifiedAt = resumed && previous ? previous.verifiedAt : now;
    if (previous) this.#entries.delete(key);
    else if (this.#entries.size >= this.#max && !this.#makeRoom(now)) return;
    this.#entries.set(key, { session, verifiedAt, storedAt: now });
  }

  /** Forgets a target's session (its connection failed). */
  delete(key: string): void {
    this.#entries.delete(key);
  }

  #makeRoom(now: number): boolean {
    for (const [key, entry] of this.#entries) {
      if (now - entry.storedAt < FULL_HANDSHAKE_EVERY) break;
      this.#entries.delete(key);
    }
    return this.#entries.size < this.#max;
  }
}

/** What an HTTPS check trusts, and the sessions made under that trust (never resumed under another). */
export interface Trust {
  context: SecureContext;
  sessions: SessionCache;
  /**
   * Each target's certificate expiry (ISO) from its last full handshake: a resumed
   * TLS session has no peer certificate to read (getPeerCertificate() is empty).
   */
  expiries: ExpiryCache;
}

/** The last certificate expiry seen per target, bounded like the sessions (the oldest go first). */
export class ExpiryCache {
  readonly #entries = new Map<string, string>();
  constructor(readonly max = MAX_SESSIONS) {}
  get(key: string): string | undefined {
    return this.#entries.get(key);
  }
  set(key: string, expiresAt: string): void {
    if (this.#entries.get(key) === expiresAt) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, expiresAt);
  }
}

let systemTrust: Trust | undefined;
const extraTrust = new WeakMap<ReadonlyArray<string>, Trust>();

/**
 * The trust of a CA list: the system's roots plus `ca`, as one TLS context made once
 * (parsing ~140 root certificates per check cost more than the handshake itself).
 */
export function trustOf(ca: ReadonlyArray<string> | undefined): Trust {
  if (!ca || ca.length === 0)
    return (systemTrust ??= { context: createSecureContext(), sessions: new SessionCache(), expiries: new ExpiryCache() });
  let trust = extraTrust.get(ca);
  if (!trust) {
    trust = {
      context: createSecureContext({ ca: [...rootCertificates, ...ca] }),
      sessions: new SessionCache(),
      expiries: new ExpiryCache(),
    };
    extraTrust.set(ca, trust);
  }
  return trust;
}
