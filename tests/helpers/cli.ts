/**
 * Runs the `tensor-box` CLI as a separate process against a test server (asynchronous: the server lives in this
 * process).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI_BIN = fileURLToPath(new URL('../../packages/cli/bin/dev.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI runner bound to a server (read when each command runs) and its key, overridable per call through `env`. */
export function cliFor(server: () => { url: string; apiKey: string }) {
  return (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const s = server();
      const child = spawn(process.execPath, [CLI_BIN, ...args], {
        env: { ...process.env, TENSOR_BOX_DOMAIN: s.url, TENSOR_BOX_API_KEY: s.apiKey, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
}
