/** Exit codes by error kind: scripts can tell a missing sandbox from a bad key without parsing messages. */
import {
  AuthenticationError,
  ConflictError,
  InvalidArgumentError,
  NotEnoughSpaceError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  SandboxError,
  TimeoutError,
} from 'tensor-box';

export const EXIT = { ok: 0, error: 1, usage: 2, notFound: 3, auth: 4, timeout: 5, conflict: 6, resource: 7 } as const;

/** A mistake in how the CLI was called. */
export class UsageError extends Error {}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof InvalidArgumentError) return EXIT.usage;
  if (err instanceof NotFoundError) return EXIT.notFound;
  if (err instanceof AuthenticationError || err instanceof PermissionDeniedError) return EXIT.auth;
  if (err instanceof TimeoutError) return EXIT.timeout;
  if (err instanceof ConflictError) return EXIT.conflict;
  if (err instanceof RateLimitError || err instanceof NotEnoughSpaceError) return EXIT.resource;
  if (err instanceof SandboxError) return EXIT.error;
  return EXIT.error;
}
