import type { MonitorStore } from '../store/index.js';
import type { User } from '../types.js';
import { authorizationToken } from './credentials.js';
import { verifyNobody, verifyPassword } from './passwords.js';
import { TokenError, type TokenClaims, type Tokens } from './tokens.js';

/** Why a request is not authenticated, in simplejwt's words. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * Who a request is: the user of a valid access token, looked up in the store (cached
 * for `cacheMs`, 5 s by default, so a disabled or demoted user loses access within them).
 */
export class Authenticator {
  readonly #cache = new Map<number, { user: User | undefined; at: number }>();

  constructor(
    private readonly store: MonitorStore,
    readonly tokens: Tokens,
    private readonly cacheMs = 5000,
  ) {}

  async #user(id: number): Promise<User | undefined> {
    const hit = this.#cache.get(id);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.user;
    const user = id > 0 && id <= 2_147_483_647 ? await this.store.users.get(id) : undefined;
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(id, { user, at: Date.now() });
    return user;
  }

  /** Drops a user from the cache: a change made here reaches their next request at once. */
  forget(id: number): void {
    this.#cache.delete(id);
  }

  /** The user with these credentials, or undefined; takes the same time whether the user exists or not. */
  async login(username: string, password: string): Promise<User | undefined> {
    const user = await this.store.users.byUsername(username);
    if (!user) return verifyNobody(password).then(() => undefined);
    if (!(await verifyPassword(password, user.password_hash)) || !user.is_active) return undefined;
    const { password_hash: _hash, ...plain } = user;
    return plain;
  }

  /** The user of an `Authorization: Bearer <access>` (or `JWT <access>`) header; throws AuthError when missing or invalid. */
  async fromHeader(header: string | undefined): Promise<User> {
    const parsed = authorizationToken(header);
    if ('missing' in parsed) throw new AuthError('Authentication credentials were not provided.');
    if ('malformed' in parsed)
      throw new AuthError('Authorization header must contain two space-delimited values', 'bad_authorization_header');
    return this.fromAccessToken(parsed.token);
  }

  async fromAccessToken(token: string): Promise<User> {
    return (await this.verifyAccess(token)).user;
  }

  /** The user of a valid access token and when the token expires (epoch seconds), for streams that end then. */
  async verifyAccess(token: string): Promise<{ user: User; exp: number }> {
    let claims: TokenClaims;
    try {
      claims = await this.tokens.verify(token, 'access');
    } catch (error) {
      if (error instanceof TokenError) throw new AuthError('Given token not valid for any token type', 'token_not_valid');
      throw error;
    }
    const user = await this.#user(claims.user_id);
    if (!user) throw new AuthError('User not found', 'user_not_found');
    if (!user.is_active) throw new AuthError('User is inactive', 'user_inactive');
    return { user, exp: claims.exp };
  }

  /** A refresh token's user, still existing and active (else TokenError). */
  async refreshUser(token: unknown): Promise<User> {
    const { user_id } = await this.tokens.verify(token, 'refresh');
    const user = await this.#user(user_id);
    if (!user || !user.is_active) throw new TokenError('Token is invalid or expired');
    return user;
  }
}
