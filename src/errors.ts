// Few typed errors, each with a code and a cause (after rabbitmq-client's exception.ts).

/**
 * The error codes of CONTRACT.md's HTTP section, plus the command line's and the internal ones.
 * `usage` (a bad argument) and `config` (a bad setting) stop a command with exit code 2.
 */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_event'
  | 'too_large'
  | 'unsupported_media_type'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'broker_unavailable'
  | 'store_unavailable'
  | 'analytics_unavailable'
  | 'not_found'
  | 'bad_request'
  | 'invalid_query'
  | 'usage'
  | 'config'
  | 'interrupted'
  | 'overloaded'
  | 'read_timeout'
  | 'request_timeout'
  | 'internal';

export class WarrenError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown[];
  readonly status: number;
  readonly retryAfterS: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { status?: number; details?: unknown[]; cause?: unknown; retryAfterS?: number } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'WarrenError';
    this.code = code;
    this.status = opts.status ?? 500;
    this.details = opts.details ?? [];
    this.retryAfterS = opts.retryAfterS;
  }
}

/** The broker could not take or confirm a message in time. */
export class BrokerUnavailableError extends WarrenError {
  constructor(message: string, cause?: unknown) {
    super('broker_unavailable', message, { status: 503, cause, retryAfterS: 1 });
    this.name = 'BrokerUnavailableError';
  }
}

/** One line for a person, without a stack trace. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !(err instanceof WarrenError)
      ? `${err.message} (${code})`
      : err.message;
  }
  return String(err);
}
