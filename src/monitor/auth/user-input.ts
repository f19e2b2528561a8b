import type { FieldErrors, User, Validated } from '../types.js';

/** Django's user name rule, so names are the ones a PulseGuard client accepts. */
export const USER_NAME = /^[\w.@+-]{1,150}$/;
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 1024;

/** A user as the API shows it: Django's field names; the password never leaves. */
export interface UserView {
  id: number;
  username: string;
  /** An admin: may change servers, notifications and users. */
  is_staff: boolean;
  is_active: boolean;
  date_joined: string;
}

export const userView = (u: User): UserView => ({
  id: u.id,
  username: u.username,
  is_staff: u.is_admin,
  is_active: u.is_active,
  date_joined: u.created_at,
});

/** The writable fields of a user as the API takes them; `password` is the plain text, hashed by the caller. */
export interface UserInput {
  username?: string;
  password?: string;
  is_staff?: boolean;
  is_active?: boolean;
}

/** Django's password length rule, in its words. */
export function passwordError(password: string): string | undefined {
  if (password.length < MIN_PASSWORD) return `This password is too short. It must contain at least ${MIN_PASSWORD} characters.`;
  if (password.length > MAX_PASSWORD) return `Ensure this field has no more than ${MAX_PASSWORD} characters.`;
  return undefined;
}

/** Checks a user body (POST: username and password required; PATCH: any of them). DRF-style errors. */
export function validateUser(input: unknown, { partial }: { partial: boolean }): Validated<UserInput> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, errors: { non_field_errors: ['Invalid data. Expected a dictionary.'] } };
  }
  const data = input as Record<string, unknown>;
  const errors: FieldErrors = {};
  const value: UserInput = {};
  const fail = (field: string, message: string) => (errors[field] ??= []).push(message);
  for (const field of ['username', 'password'] as const) {
    const raw = data[field];
    if (raw === undefined) {
      if (!partial) fail(field, 'This field is required.');
      continue;
    }
    if (raw === null) fail(field, 'This field may not be null.');
    else if (typeof raw !== 'string') fail(field, 'Not a valid string.');
    else if (raw === '') fail(field, 'This field may not be blank.');
    else if (field === 'username') {
      if (!USER_NAME.test(raw))
        fail(field, 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.');
      else value.username = raw;
    } else {
      const message = passwordError(raw);
      if (message) fail(field, message);
      else value.password = raw;
    }
  }
  for (const field of ['is_staff', 'is_active'] as const) {
    const raw = data[field];
    if (raw === undefined) continue;
    if (typeof raw === 'boolean') value[field] = raw;
    else if (raw === 'true' || raw === 1 || raw === '1') value[field] = true;
    else if (raw === 'false' || raw === 0 || raw === '0') value[field] = false;
    else fail(field, 'Must be a valid boolean.');
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, value };
}
