/**
 * Listening TCP ports from the text of /proc/net/tcp and /proc/net/tcp6 (state 0A = LISTEN), without envd's own port.
 * The console reads those files with a command in the sandbox: there is no API for it, and none is needed.
 */
import { ENVD_PORT } from './envd-port.gen';

export interface ListeningPort {
  port: number;
  /** Whether it listens on every address (reachable through the ingress) or only loopback. */
  loopbackOnly: boolean;
}

export function listeningPorts(procNetTcp: string): ListeningPort[] {
  const byPort = new Map<number, ListeningPort>();
  for (const line of procNetTcp.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4 || cols[3] !== '0A') continue;
    const [addr, portHex] = cols[1].split(':');
    const port = parseInt(portHex, 16);
    if (!Number.isFinite(port) || port === ENVD_PORT) continue;
    const loopback = addr === '0100007F' || addr === '00000000000000000000000001000000';
    const prev = byPort.get(port);
    byPort.set(port, { port, loopbackOnly: (prev?.loopbackOnly ?? true) && loopback });
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}
