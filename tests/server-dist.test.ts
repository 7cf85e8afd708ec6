/**
 * The server as `npm start` runs it: plain `node packages/server/dist/main.js` (compiled by scripts/setup.sh, which
 * `npm test` runs first), no tsx. It starts on a fresh data dir, answers /health and the API with its key, serves
 * the API reference, runs a sandbox, and stops cleanly on SIGTERM. (Run alone after editing the server, run
 * scripts/setup.sh first so dist/ is current.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox } from 'tensor-box';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = path.join(ROOT, 'packages/server/dist/main.js');
const API_KEY = `e2b_${'5a'.repeat(16)}`;

let child: ChildProcess;
let dataDir: string;
let url: string;
let stderr = '';

before(async () => {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run bash scripts/setup.sh`);
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'tb-server-dist-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  url = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...process.env, TENSOR_BOX_DATA_DIR: dataDir, TENSOR_BOX_PORT: `${port}`, TENSOR_BOX_API_KEY: API_KEY },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-8000)));
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited ${child.exitCode}: ${stderr}`);
    if (Date.now() - t0 > 240_000) throw new Error(`no /health after 240 s: ${stderr}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('compiled server (npm start)', () => {
  it('answers the API with its key, refuses it without, and serves the API reference', async () => {
    assert.equal((await fetch(`${url}/v2/sandboxes`)).status, 401);
    assert.equal((await fetch(`${url}/v2/sandboxes`, { headers: { 'X-API-Key': API_KEY } })).status, 200);
    const spec = await fetch(`${url}/openapi.json`);
    assert.equal(spec.status, 200);
    assert.equal((await spec.json()).info.title, 'Tensor Box API');
    assert.equal((await fetch(`${url}/docs/api`)).status, 200);
  });

  it('runs a sandbox', async () => {
    const sbx = await Sandbox.create('default', { domain: url, apiKey: API_KEY, timeoutMs: 60_000 });
    try {
      assert.equal((await sbx.commands.run('echo compiled')).stdout, 'compiled\n');
    } finally {
      await sbx.kill();
    }
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  });
});
