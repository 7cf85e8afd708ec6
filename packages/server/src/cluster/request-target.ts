/**
 * What a request is about, for the cluster's forwarding decision (gate.ts): a sandbox (by ingress header or host
 * name, by control-plane path, or by the signature of a `/files` URL), a new sandbox (create), or nothing of a node's
 * own (lists, templates, teams: any node answers from the shared store). Pure parsing; no lookups.
 */
import type { IncomingMessage } from 'node:http';
import { ingressTarget } from '../ingress/route.js';

export type RequestTarget =
  /** `wakes`: the request may resume a paused sandbox (connect, resume, traffic to an auto-resume sandbox). */
  | { kind: 'sandbox'; sandboxId: string; wakes: 'always' | 'autoResume' | 'never' }
  | { kind: 'create' }
  /** `/files` signed by a sandbox's agent token: the sandbox is found by the signature. */
  | { kind: 'signedFiles'; query: URLSearchParams }
  | { kind: 'none' };

const SANDBOX_PATH = /^\/(?:v2\/)?sandboxes\/([a-z][a-z0-9]+)(\/[^?]*)?$/;
const CREATE_PATH = /^\/(?:v2\/)?sandboxes$/;

export function requestTarget(req: IncomingMessage): RequestTarget {
  const ingress = ingressTarget(req.headers);
  if (ingress) return { kind: 'sandbox', sandboxId: ingress.sandboxId, wakes: 'autoResume' };
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'POST' && CREATE_PATH.test(url.pathname)) return { kind: 'create' };
  if (url.pathname === '/files') return { kind: 'signedFiles', query: url.searchParams };
  const m = SANDBOX_PATH.exec(url.pathname);
  if (!m || m[1] === 'metrics') return { kind: 'none' };
  const wakes = req.method === 'POST' && /^\/(connect|resume)$/.test(m[2] ?? '') ? 'always' : 'never';
  return { kind: 'sandbox', sandboxId: m[1], wakes };
}
