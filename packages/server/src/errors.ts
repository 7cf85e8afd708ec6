/**
 * The control plane's error kinds and their one mapping to HTTP. Every failure that reaches a client passes through
 * `toHttpError`, which produces E2B's error body `{code, message}` (plus `error_code`, the kind, for our own SDKs).
 */

export type ErrorKind =
  | 'not_found'
  | 'already_exists'
  | 'invalid_argument'
  | 'failed_precondition'
  | 'unauthenticated'
  | 'permission_denied'
  | 'resource_exhausted'
  | 'insufficient_storage'
  | 'unavailable'
  | 'timeout'
  | 'conflict'
  | 'internal';

const STATUS: Record<ErrorKind, number> = {
  not_found: 404,
  already_exists: 409,
  invalid_argument: 400,
  failed_precondition: 409,
  conflict: 409,
  unauthenticated: 401,
  permission_denied: 403,
  resource_exhausted: 429,
  insufficient_storage: 507,
  unavailable: 503,
  timeout: 504,
  internal: 500,
};

/** An error meant for the client: its message is shown as is. */
export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  get status(): number {
    return STATUS[this.kind];
  }
}

export const notFound = (what: string) => new ApiError('not_found', what);
export const invalid = (msg: string) => new ApiError('invalid_argument', msg);

/**
 * The E2B-style body for any thrown value; unknown errors become 500 without leaking internals beyond their message.
 */
export function toHttpError(err: unknown): {
  status: number;
  body: { code: number; message: string; error_code: string };
} {
  if (err instanceof ApiError)
    return { status: err.status, body: { code: err.status, message: err.message, error_code: err.kind } };
  const kind = (err as { kind?: string })?.kind;
  if (kind && kind in STATUS) {
    const status = STATUS[kind as ErrorKind];
    return { status, body: { code: status, message: String((err as Error).message), error_code: kind } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: { code: 500, message: `internal error: ${message}`, error_code: 'internal' } };
}
