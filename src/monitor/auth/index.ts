// Authentication of the monitor's API: scrypt password hashes, HS256 JWTs (jose), users from the store.
export { hashPassword, verifyPassword } from './passwords.js';
export { DEFAULT_LIFETIMES, TokenError, Tokens, type TokenClaims, type TokenLifetimes, type TokenType } from './tokens.js';
export { AuthError, Authenticator } from './authenticate.js';
export { adminSeed, configuredSecret, monitorProduction, resolveSecret, seedAdmin, type AdminSeed } from './setup.js';
