/**
 * Errors thrown by the SDK: one base class, a flat list of kinds, and the only two places where wire errors become SDK
 * errors — `fromHttp` (REST and envd HTTP) and `fromConnect` (envd Connect-RPC).
 */
import { Code, ConnectError } from '@connectrpc/connect';

/** Base class of every error the SDK throws. */
export class SandboxError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
/** Thrown when a sandbox, template, file or process does not exist. */
export class NotFoundError extends SandboxError {}
/** Thrown when the API key (or the sandbox's access token) is missing or wrong. */
export class AuthenticationError extends SandboxError {}
/** Thrown when the request is malformed or a value is out of range. */
export class InvalidArgumentError extends SandboxError {}
/** Thrown when an operation conflicts with the sandbox's state (e.g. pausing a paused sandbox). */
export class ConflictError extends SandboxError {}
/** Thrown when an operation or a command runs past its timeout, or the sandbox is gone mid-call. */
export class TimeoutError extends SandboxError {}
/** Thrown when the server rate-limits the caller or a quota is exhausted. */
export class RateLimitError extends SandboxError {}
/** Thrown when the sandbox's disk is full. */
export class NotEnoughSpaceError extends SandboxError {}
/** Thrown when access to a path or route is forbidden. */
export class PermissionDeniedError extends SandboxError {}

/** Thrown by `commands.run` and `CommandHandle.wait` when the command exits with a non-zero code. */
export class CommandExitError extends SandboxError {
  constructor(
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
    readonly error?: string,
  ) {
    super(
      `command exited with code ${exitCode}${error ? `: ${error}` : ''}${stderr ? `\n${stderr.slice(-2000)}` : ''}`,
    );
  }
}

/** Thrown by `Template.waitForBuild` (and `template build`) when a template build ends in `error`. */
export class BuildError extends SandboxError {
  /** The failing step's name, when a step failed. */
  readonly step?: string;
  /** The failing command's exit code. */
  readonly exitCode?: number;
  /** The last lines of the build log. */
  readonly logEntries?: { timestamp: Date; level: string; message: string; step?: string }[];
  constructor(
    reason: {
      message: string;
      step?: string;
      exitCode?: number;
      logEntries?: { timestamp: Date; level: string; message: string; step?: string }[];
    },
    readonly templateID: string,
    readonly buildID: string,
  ) {
    super(reason.message);
    this.step = reason.step;
    this.exitCode = reason.exitCode;
    this.logEntries = reason.logEntries;
  }
}

/** Maps an HTTP error status and body (`{code, message}`) to the SDK error. */
export function fromHttp(status: number, body: unknown, context = ''): SandboxError {
  const message =
    (typeof body === 'object' && body && 'message' in body
      ? String((body as { message: unknown }).message)
      : String(body ?? '')) || `HTTP ${status}`;
  const msg = context ? `${context}: ${message}` : message;
  switch (status) {
    case 400:
      return new InvalidArgumentError(msg, status);
    case 401:
      return new AuthenticationError(msg, status);
    case 403:
      return new PermissionDeniedError(msg, status);
    case 404:
      return new NotFoundError(msg, status);
    case 409:
      return new ConflictError(msg, status);
    case 429:
      return new RateLimitError(msg, status);
    case 502:
    case 503:
      return new TimeoutError(msg, status);
    case 504:
      return new TimeoutError(msg, status);
    case 507:
      return new NotEnoughSpaceError(msg, status);
    default:
      return new SandboxError(msg, status);
  }
}

/** Maps a Connect-RPC error (from envd) to the SDK error. */
export function fromConnect(err: unknown): Error {
  if (err instanceof SandboxError) return err;
  const e = ConnectError.from(err);
  switch (e.code) {
    case Code.InvalidArgument:
      return new InvalidArgumentError(e.rawMessage);
    case Code.Unauthenticated:
      return new AuthenticationError(e.rawMessage);
    case Code.PermissionDenied:
      return new PermissionDeniedError(e.rawMessage);
    case Code.NotFound:
      return new NotFoundError(e.rawMessage);
    case Code.AlreadyExists:
      return new ConflictError(e.rawMessage);
    case Code.ResourceExhausted:
      return new NotEnoughSpaceError(e.rawMessage);
    case Code.DeadlineExceeded:
    case Code.Canceled:
      return new TimeoutError(`operation timed out: ${e.rawMessage}`);
    case Code.Unavailable:
      return new TimeoutError(`sandbox is not reachable (killed or timed out?): ${e.rawMessage}`);
    default:
      return new SandboxError(`${Code[e.code]}: ${e.rawMessage}`);
  }
}
