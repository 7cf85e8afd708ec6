/**
 * The few calls the control plane makes to a sandbox's agent itself (everything else reaches envd through the ingress).
 * `/init` hands over the sandbox's env vars, access token and default user after create and after every resume.
 */

export interface EnvdInit {
  envVars: Record<string, string>;
  /** The token to set ('' removes it). */
  accessToken?: string;
  /** The token the agent has now, when it differs (a sandbox started from a snapshot carries its source's token). */
  currentToken?: string;
  defaultUser: string;
  defaultWorkdir: string;
}

export async function envdInit(envdUrl: string, init: EnvdInit, signal?: AbortSignal): Promise<void> {
  const res = await fetch(`${envdUrl}/init`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...((init.currentToken ?? init.accessToken) ? { 'X-Access-Token': (init.currentToken ?? init.accessToken)! } : {}) },
    body: JSON.stringify({
      envVars: init.envVars,
      accessToken: init.accessToken,
      defaultUser: init.defaultUser,
      defaultWorkdir: init.defaultWorkdir,
      timestamp: new Date().toISOString(),
    }),
    signal: signal ?? AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`envd /init answered ${res.status}: ${await res.text()}`);
}

export async function envdHealthy(envdUrl: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`${envdUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.status === 204 || res.ok;
  } catch {
    return false;
  }
}
