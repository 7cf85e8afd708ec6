/**
 * Connect-RPC clients of a sandbox's agent for the control plane's own use (terminal and watch WebSockets), with the
 * sandbox's access token and the acting user. Connect errors are mapped to ApiError kinds here, once.
 */
import { createClient, type Client, ConnectError, Code } from '@connectrpc/connect';
import type { DescService } from '@bufbuild/protobuf';
import { ApiError, type ErrorKind } from '../errors.js';
import type { SandboxRecord } from '../store/store.js';
import { sandboxConnections } from '../envd/connections.js';

/** A client over the sandbox's pooled connections (envd/connections.ts): a resumed sandbox gets fresh ones. */
export function envdRpc<T extends DescService>(service: T, s: SandboxRecord): Client<T> {
  return createClient(service, sandboxConnections.transport({ sandboxId: s.sandboxId, ...s.runtime! }));
}

export function envdHeaders(s: SandboxRecord, user?: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (s.envdAccessToken) h['X-Access-Token'] = s.envdAccessToken;
  if (user) h.Authorization = `Basic ${Buffer.from(`${user}:`).toString('base64')}`;
  return h;
}

const KINDS: Partial<Record<Code, ErrorKind>> = {
  [Code.NotFound]: 'not_found',
  [Code.InvalidArgument]: 'invalid_argument',
  [Code.AlreadyExists]: 'already_exists',
  [Code.PermissionDenied]: 'permission_denied',
  [Code.Unauthenticated]: 'unauthenticated',
  [Code.ResourceExhausted]: 'resource_exhausted',
  [Code.DeadlineExceeded]: 'timeout',
  [Code.Unavailable]: 'unavailable',
  [Code.FailedPrecondition]: 'failed_precondition',
};

export function fromEnvdError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = ConnectError.from(err);
  return new ApiError(KINDS[e.code] ?? 'internal', e.rawMessage);
}
