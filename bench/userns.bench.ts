/**
 * What a user namespace costs (docs/userns.md): the container driver's create (launch → agent ready) and a
 * pause/resume cycle (checkpoint + lazy restore → agent answering), with `userNamespaces` on and off, runs
 * interleaved so both sides see the same machine load. Writes bench/results/userns.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContainerDriver } from '../packages/runtime/src/container.js';
import { buildDebianRootfs, DEFAULT_TEMPLATE_RECIPE } from '../packages/runtime/src/rootfs/debian.js';
import type { SandboxSpec } from '../packages/runtime/src/driver.js';
import { markdownTable, percentile, type Row } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS || 20);
const repo = fileURLToPath(new URL('../', import.meta.url));

async function main() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tb-userns-bench-'));
  const rootfs = path.join(root, 'rootfs');
  const cacheDir = process.env.TENSOR_BOX_CACHE_DIR || '/var/cache/tensor-box';
  await buildDebianRootfs({ dest: rootfs, ...DEFAULT_TEMPLATE_RECIPE, cacheDir });
  const driver = (on: boolean) =>
    new ContainerDriver({
      stateDir: path.join(root, on ? 'on' : 'off'),
      launcherPath: path.join(repo, 'build', 'tb-launch'),
      agentPath: path.join(repo, 'build', 'envd'),
      criuPath: path.join(repo, 'build', 'criu'),
      userNamespaces: on,
    });
  const drivers = { on: driver(true), off: driver(false) };
  const spec = (id: string): SandboxSpec =>
    ({ sandboxId: id, layers: [rootfs], cpuCount: 1, memoryMB: 512, diskMB: 0, internetAccess: false }) as SandboxSpec;
  const create: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const cycle: Record<'on' | 'off', number[]> = { on: [], off: [] };
  try {
    for (let i = -1; i < RUNS; i++) {
      for (const side of ['on', 'off'] as const) {
        const d = drivers[side];
        const id = `b${side}${i + 1}`;
        let t0 = performance.now();
        await d.create(spec(id));
        const created = performance.now() - t0;
        const img = path.join(root, `img-${id}`);
        t0 = performance.now();
        await d.checkpoint(id, img);
        await d.restore(spec(`${id}r`), img, { move: true });
        const cycled = performance.now() - t0;
        await d.destroy(`${id}r`);
        while (d.imageInUse(img)) await new Promise((r) => setTimeout(r, 20));
        rmSync(img, { recursive: true, force: true });
        if (i >= 0) {
          create[side].push(created);
          cycle[side].push(cycled); // i = -1 warms caches up
        }
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const row = (what: string, on: number[], off: number[]): Row => ({
    what,
    n: RUNS,
    p50: percentile(on, 50),
    p95: percentile(on, 95),
    baseline: 'same, userNamespaces: false',
    baseP50: percentile(off, 50),
    baseP95: percentile(off, 95),
  });
  const rows = [
    row('driver create → agent ready, user namespace on', create.on, create.off),
    row('pause + resume (checkpoint, lazy restore) → agent answering, on', cycle.on, cycle.off),
  ];
  const out = [
    '# User namespace cost',
    '',
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores, kernel ${os.release()}; the two sides interleaved.`,
    'Container driver directly (no server), default template rootfs, no disk quota. See docs/userns.md.',
    '',
    markdownTable(rows),
    '',
  ].join('\n');
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/userns.md', import.meta.url), out);
  process.stdout.write(out);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
