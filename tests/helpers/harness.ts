/**
 * Test harness: a real Tensor Box server (real container driver, real SQLite) on a random loopback port with its own
 * data dir; the built default template comes from the shared rootfs cache so only the first run pays for mmdebstrap.
 * `track()` remembers sandboxes a test made so `close()` kills any the test did not.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../../packages/server/src/index.js';
import type { ServerConfig } from '../../packages/server/src/config.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** SDK connection options for this server. */
  conn: { domain: string; apiKey: string };
  config: ServerConfig;
  /** The server's log lines (for failure messages). */
  logs: string[];
  close(opts?: { keepDataDir?: boolean }): Promise<void>;
}

export function testConfig(dataDir: string, over: Partial<ServerConfig> = {}): ServerConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    dataDir,
    domain: '',
    cacheDir: process.env.TENSOR_BOX_CACHE_DIR || '/var/cache/tensor-box',
    defaultTimeoutMs: 15_000,
    sweepIntervalMs: 200,
    ...over,
  };
}

export async function startTestServer(over: Partial<ServerConfig> = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'tb-test-'));
  const config = testConfig(dir, over);
  const logs: string[] = [];
  const server = await startServer(config, { log: (m) => logs.push(m) });
  return {
    ...server,
    dataDir: dir,
    config,
    logs,
    conn: { domain: server.url, apiKey: server.apiKey },
    async close(opts = {}) {
      if (!opts.keepDataDir) {
        for (const s of await server.store.listSandboxes()) await server.sandboxes.kill(s.sandboxId).catch(() => {});
      }
      await server.close();
      if (!opts.keepDataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** fetch against the server's REST API with the key. */
export async function api(
  s: { url: string; apiKey: string },
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${s.url}${p}`, {
    method,
    headers: {
      'X-API-Key': s.apiKey,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}

/**
 * Runs a program without blocking the event loop (the server under test lives in this process, so a synchronous
 * child that talks to it would deadlock). Rejects on a non-zero exit.
 */
export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
    if (input !== undefined) {
      child.stdin!.on('error', () => {}); // the program may exit without reading it all
      child.stdin!.end(input);
    }
  });
}

/** GET with an explicit Host header (fetch drops a caller-set Host). */
export function httpGet(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
  });
}
