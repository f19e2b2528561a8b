/**
 * An environment variable that cannot be used; its message is one line naming the variable.
 * A TypeError, like the error of a bad option, so one `catch` covers both at setup.
 */
export class ConfigError extends TypeError {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

/** A health check that did not finish within its timeout. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}
