/** An environment variable that cannot be used; its message is one line naming the variable. */
export class ConfigError extends Error {
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
