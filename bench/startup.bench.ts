/**
 * Server start-up benchmark: wall time from spawning the server process to the first answered `GET /health`, for the
 * compiled JavaScript that `npm start` runs (packages/server/dist/main.js) against the TypeScript sources loaded
 * through tsx at run time (what `npm start` ran before). Both start on the same data dir, whose default template is
 * already built, so the numbers are the server's own start-up and not a template build. Alternates the two so page
 * cache and CPU contention hit both alike. Writes bench/results/startup.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { markdownTable, percentile, type Row } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS || 10);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMPILED = ['packages/server/dist/main.js'];
const SOURCES = ['--import', 'tsx', 'packages/server/src/main.ts'];
const DEADLINE_MS = 600_000;
const API_KEY = 'e2b_0123456789abcdef0123456789abcdef';

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`)).ok;
  } catch {
    return false;
  }
}

/** Starts the server with `args` on `port`, returns ms until /health answers; the server is stopped afterwards. */
async function startOnce(args: string[], dataDir: string, port: number): Promise<number> {
  const env = { ...process.env, TENSOR_BOX_DATA_DIR: dataDir, TENSOR_BOX_PORT: `${port}`, TENSOR_BOX_API_KEY: API_KEY };
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  try {
    const url = `http://127.0.0.1:${port}`;
    while (!(await healthy(url))) {
      if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${stderr}`);
      if (performance.now() - t0 > DEADLINE_MS) throw new Error(`no /health after ${DEADLINE_MS} ms: ${stderr}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return performance.now() - t0;
  } finally {
    await stop(child);
  }
}

async function main() {
  if (!existsSync(path.join(ROOT, COMPILED[0]))) throw new Error(`${COMPILED[0]} is missing: run scripts/setup.sh`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tb-startup-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const compiled: number[] = [];
  const sources: number[] = [];
  try {
    // Warm-up: the first start builds or links the default template into the fresh data dir.
    await startOnce(COMPILED, dataDir, port);
    await startOnce(SOURCES, dataDir, port);
    for (let i = 0; i < RUNS; i++) {
      compiled.push(await startOnce(COMPILED, dataDir, port));
      sources.push(await startOnce(SOURCES, dataDir, port));
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const rows: Row[] = [
    {
      what: 'server start → first `GET /health` answered (compiled JS, `node packages/server/dist/main.js`)',
      n: RUNS,
      p50: percentile(compiled, 50),
      p95: percentile(compiled, 95),
      baseline: 'TypeScript sources through tsx (`node --import tsx packages/server/src/main.ts`)',
      baseP50: percentile(sources, 50),
      baseP95: percentile(sources, 95),
    },
  ];
  const md = [
    '# Server start-up benchmark',
    '',
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `kernel ${os.release()}, load average ${os.loadavg()[0].toFixed(1)} at the end.`,
    'Process spawn to first answered `GET /health`, same data dir (default template already built), alternating runs.',
    '`npm start` runs the compiled form after `scripts/setup.sh` (which adds its own checks, not counted here).',
    '',
    markdownTable(rows),
    '',
  ].join('\n');
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/startup.md'), md);
  process.stdout.write(md);
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
