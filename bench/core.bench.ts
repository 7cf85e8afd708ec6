/**
 * Core benchmark (issue: core platform). Each Tensor Box number sits beside the raw primitive measured in the same run:
 *  - create → first command (SDK, through the server) vs a raw namespace launch (`unshare … true`);
 *  - command round trip for `true` (the SDK runs it as `bash -l -c true` in the sandbox) vs a local `spawn('true')`;
 *  - 100 MB file write and read through the SDK vs a local disk copy.
 * Writes bench/results/core.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { copyFile, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Sandbox } from 'tensor-box';
import { startTestServer } from '../tests/helpers/harness.js';
import { markdownTable, percentile, time, type Row } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS || 30);

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

async function series(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await time(fn));
  return out;
}

async function main() {
  const server = await startTestServer();
  const conn = server.conn;
  const rows: Row[] = [];
  try {
    // Warm-up: one sandbox, so page cache and code paths are hot for both sides.
    await (await Sandbox.create('default', conn)).kill();

    const created: Sandbox[] = [];
    const createTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const sbx = await Sandbox.create('default', conn);
      await sbx.commands.run('true');
      createTimes.push(performance.now() - t0);
      created.push(sbx);
      if (created.length >= 10) await Promise.all(created.splice(0).map((s) => s.kill()));
    }
    await Promise.all(created.splice(0).map((s) => s.kill()));
    const rawNs = await series(RUNS, () =>
      run('unshare', ['--fork', '--pid', '--mount', '--uts', '--ipc', '--net', '--mount-proc', 'true']),
    );
    rows.push({
      what: 'create → first command (`true`)',
      n: RUNS,
      p50: percentile(createTimes, 50),
      p95: percentile(createTimes, 95),
      baseline: 'raw namespace launch (`unshare -fpmuin --mount-proc true`)',
      baseP50: percentile(rawNs, 50),
      baseP95: percentile(rawNs, 95),
      target: 'p50 < 100 ms',
    });

    const sbx = await Sandbox.create('default', { ...conn, timeoutMs: 600_000 });
    await sbx.commands.run('true');
    const exec = await series(RUNS * 3, () => sbx.commands.run('true'));
    const local = await series(RUNS * 3, () => run('true', []));
    rows.push({
      what: 'command round trip (`true`)',
      n: RUNS * 3,
      p50: percentile(exec, 50),
      p95: percentile(exec, 95),
      baseline: "local `spawn('true')`",
      baseP50: percentile(local, 50),
      baseP95: percentile(local, 95),
      target: 'p50 < 10 ms',
    });

    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tb-bench-'));
    const data = randomBytes(100 << 20);
    const src = path.join(tmp, 'src.bin');
    await writeFile(src, data);
    const n = 5;
    const writes = await series(n, () => sbx.files.write('/tmp/big.bin', data));
    const reads = await series(n, async () => {
      const b = await sbx.files.read('/tmp/big.bin', { format: 'bytes' });
      if (b.length !== data.length) throw new Error('short read');
    });
    const copies = await series(n, () => copyFile(src, path.join(tmp, 'dst.bin')));
    const localReads = await series(n, () => readFile(path.join(tmp, 'dst.bin')));
    rows.push({
      what: '100 MB file write (SDK)',
      n,
      p50: percentile(writes, 50),
      p95: percentile(writes, 95),
      baseline: 'local disk copy (copyFile)',
      baseP50: percentile(copies, 50),
      baseP95: percentile(copies, 95),
    });
    rows.push({
      what: '100 MB file read (SDK)',
      n,
      p50: percentile(reads, 50),
      p95: percentile(reads, 95),
      baseline: 'local readFile',
      baseP50: percentile(localReads, 50),
      baseP95: percentile(localReads, 95),
    });
    rmSync(tmp, { recursive: true, force: true });
    await sbx.kill();
  } finally {
    await server.close();
  }
  const out = [
    '# Core benchmark',
    '',
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `kernel ${os.release()}.`,
    'Client: the `tensor-box` TypeScript SDK through the server on loopback (REST + ingress to envd). Baselines ran ' +
      'in the same process, same run.',
    '',
    markdownTable(rows),
    '',
  ].join('\n');
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/core.md', import.meta.url), out);
  process.stdout.write(out);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
