/**
 * A write named a row that does not exist (any more): the foreign key said no. Raised by
 * the store in place of the driver's error (PostgreSQL 23503, SQLite
 * SQLITE_CONSTRAINT_FOREIGNKEY) so the API answers a field error, as for a reference it
 * found missing before the write: the two differ only by a concurrent delete.
 */
export class MissingReferenceError extends Error {
  override readonly name = 'MissingReferenceError';
  constructor(
    /** The API field that holds the reference, e.g. `server`. */
    readonly field: string,
    readonly value: unknown,
  ) {
    super(`Invalid pk "${String(value).slice(0, 40)}" - object does not exist.`);
  }
}

export function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** Runs a write; a foreign-key violation becomes a MissingReferenceError on `field`. */
export async function referencing<T>(field: string, value: unknown, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isForeignKeyViolation(error)) throw new MissingReferenceError(field, value);
    throw error;
  }
}
