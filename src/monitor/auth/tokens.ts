import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT, errors as joseErrors } from 'jose';

export type TokenType = 'access' | 'refresh';

/** What a verified token says (the claims of djangorestframework-simplejwt, so PulseGuard clients read them). */
export interface TokenClaims {
  token_type: TokenType;
  user_id: number;
  jti: string;
  exp: number;
  iat: number;
}

export interface TokenLifetimes {
  /** Seconds an access token is valid. Default 300. */
  access: number;
  /** Seconds a refresh token is valid. Default 86400. */
  refresh: number;
}

export const DEFAULT_LIFETIMES: TokenLifetimes = { access: 300, refresh: 86_400 };

/** A token that is malformed, expired, badly signed or of the wrong type. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
}

/** Signs and verifies the API's JWTs: HS256 with one shared secret, access and refresh told apart by `token_type`. */
export class Tokens {
  readonly #key: Uint8Array;

  constructor(
    secret: string,
    readonly lifetimes: TokenLifetimes = DEFAULT_LIFETIMES,
  ) {
    this.#key = new TextEncoder().encode(secret);
  }

  sign(type: TokenType, userId: number): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ token_type: type, user_id: userId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setJti(randomUUID().replaceAll('-', ''))
      .setIssuedAt(now)
      .setExpirationTime(now + this.lifetimes[type])
      .sign(this.#key);
  }

  /** The claims of a valid token; with `type`, only a token of that type is valid. Throws TokenError otherwise. */
  async verify(token: unknown, type?: TokenType): Promise<TokenClaims> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) throw new TokenError('Token is invalid or expired');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#key, { algorithms: ['HS256'], requiredClaims: ['exp', 'iat', 'jti'] }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) throw new TokenError('Token is invalid or expired');
      throw error;
    }
    const { token_type, user_id } = payload;
    if ((token_type !== 'access' && token_type !== 'refresh') || typeof user_id !== 'number' || !Number.isSafeInteger(user_id)) {
      throw new TokenError('Token is invalid or expired');
    }
    if (type !== undefined && token_type !== type) throw new TokenError('Token has wrong type');
    return payload as unknown as TokenClaims;
  }
}
