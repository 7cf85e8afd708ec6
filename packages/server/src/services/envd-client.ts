/**
 * The few calls the control plane makes to a sandbox's agent itself (everything else reaches envd through the ingress).
 * `/init` hands over the sandbox's env vars, access token and default user after create and after every resume.
 * Connections come from the sandbox pools (envd/connections.ts).
 */
import http from 'node:http';
import type { components } from '@tensor-box/generated/envd';
import { sandboxConnections } from '../envd/connections.js';

/** POST /init's body, as spec/envd/envd.yaml defines it. */
type InitRequest = components['schemas']['InitRequest'];

/** What /init hands over; a field left out keeps the agent's value (a resume sends only the time). */
export interface EnvdInit {
  envVars?: Record<string, string>;
  /** The token to set ('' removes it). */
  accessToken?: string;
  /** The token the agent has now, when it differs (a sandbox started from a snapshot carries its source's token). */
  currentToken?: string;
  defaultUser?: string;
  defaultWorkdir?: string;
}

/**
 * One HTTP request over the pool of the runtime answering at the URL's agent (a one-off connection when none is
 * registered). Not fetch: its pool keeps sockets per address, and sandbox addresses are reused.
 */
function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs: number; signal?: AbortSignal },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: sandboxConnections.agentForUrl(new URL(url).origin),
        timeout: opts.timeoutMs,
        signal: opts.signal,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function envdInit(envdUrl: string, init: EnvdInit, signal?: AbortSignal): Promise<void> {
  const token = init.currentToken ?? init.accessToken;
  const res = await request(`${envdUrl}/init`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { 'X-Access-Token': token } : {}) },
    body: JSON.stringify({
      envVars: init.envVars,
      accessToken: init.accessToken,
      defaultUser: init.defaultUser,
      defaultWorkdir: init.defaultWorkdir,
      timestamp: new Date().toISOString(),
    } satisfies InitRequest),
    timeoutMs: 10_000,
    signal,
  });
  if (res.status >= 300) throw new Error(`envd /init answered ${res.status}: ${res.text}`);
}

/** Ends the agent's watches before a checkpoint (CRIU cannot save inotify watches on overlayfs). */
export async function envdQuiesce(envdUrl: string, token?: string): Promise<void> {
  const res = await request(`${envdUrl}/quiesce`, {
    method: 'POST',
    headers: token ? { 'X-Access-Token': token } : {},
    timeoutMs: 5000,
  });
  if (res.status >= 300) throw new Error(`envd /quiesce answered ${res.status}: ${res.text}`);
}

export async function envdHealthy(envdUrl: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await request(`${envdUrl}/health`, { timeoutMs });
    return res.status === 204 || (res.status >= 200 && res.status < 300);
  } catch {
    return false;
  }
}
