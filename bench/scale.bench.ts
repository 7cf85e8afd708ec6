/**
 * Scale benchmark (issue: a thousand sandboxes on one node). The server runs as its own process (as in production, and
 * so the load generator does not share its event loop), optionally with `--cpu-prof` (SCALE_CPU_PROF=1: the profile
 * lands in bench/results/profiles/). Phases, all in one run:
 *  1. the raw primitive: namespace launches (`unshare … true`, 8 at a time) per second;
 *  2. 100 concurrent creates (create + `true`): failures, p50/p95, creates per second;
 *  3. ramp to SCALE_N idle sandboxes (default 1000), and at each checkpoint probe for a few seconds: GET /health,
 *     GET /sandboxes/{id}, a list page, `commands.run('true')` in a random sandbox; server RSS and open fds;
 *  4. timeout accuracy: sandboxes with a 10 s timeout, how late each is gone;
 *  5. kill everything: how long, and what is left (links, state dirs).
 * Writes bench/results/scale.md. Numbers are of this machine (2 cores shared with everything else running).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from 'tensor-box';
import { fmt, percentile } from './stats.js';

const N = Number(process.env.SCALE_N || 1000);
const CHECKPOINTS = [100, 300, 500, 700, 1000, 1500, 2000].filter((c) => c <= N);
if (!CHECKPOINTS.includes(N)) CHECKPOINTS.push(N);
const API_KEY = `e2b_${'5'.repeat(32)}`;
const REPO = path.resolve(import.meta.dirname, '..');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

async function startServerProcess(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const profDir = path.join(REPO, 'bench', 'results', 'profiles');
  const prof = process.env.SCALE_CPU_PROF === '1' ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  if (prof.length) mkdirSync(profDir, { recursive: true });
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', path.join(REPO, 'packages/server/src/main.ts')], {
    env: {
      ...process.env,
      TENSOR_BOX_DATA_DIR: dataDir,
      TENSOR_BOX_PORT: String(port),
      TENSOR_BOX_API_KEY: API_KEY,
      TENSOR_BOX_SWEEP_MS: '500',
      // The admin team's default quotas (100 running sandboxes) would stop the ramp: this measures the node.
      TENSOR_BOX_QUOTA_MAX_RUNNING_SANDBOXES: '100000',
      TENSOR_BOX_QUOTA_MAX_VCPUS: '1000000',
      TENSOR_BOX_QUOTA_MAX_MEMORY_MB: '1000000000',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${err}`);
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, child };
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`server did not start: ${err}`);
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

async function rawLaunchRate(n: number): Promise<number> {
  const t0 = performance.now();
  await pool(
    Array.from({ length: n }, (_, i) => i),
    8,
    () =>
      new Promise<void>((resolve, reject) => {
        const p = spawn('unshare', ['--mount', '--pid', '--uts', '--ipc', '--net', '--fork', 'true'], {
          stdio: 'ignore',
        });
        p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`unshare exited ${c}`))));
      }),
  );
  return n / ((performance.now() - t0) / 1000);
}

function serverFacts(pid: number): { rssMB: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  return { rssMB: Math.round(rss), fds: readdirSync(`/proc/${pid}/fd`).length };
}

interface Probe {
  at: number;
  health: number[];
  get: number[];
  list: number[];
  run: number[];
  rssMB: number;
  fds: number;
  hostFreeMB: number;
}

async function probe(url: string, pid: number, sandboxes: Sandbox[], seconds: number): Promise<Probe> {
  const headers = { 'X-API-Key': API_KEY };
  const p: Probe = {
    at: sandboxes.length,
    health: [],
    get: [],
    list: [],
    run: [],
    ...serverFacts(pid),
    hostFreeMB: Math.round(os.freemem() / 2 ** 20),
  };
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const s = sandboxes[Math.floor(Math.random() * sandboxes.length)];
    p.health.push((await timed(() => fetch(`${url}/health`).then((r) => r.arrayBuffer())))[0]);
    p.get.push(
      (await timed(() => fetch(`${url}/sandboxes/${s.sandboxId}`, { headers }).then((r) => r.arrayBuffer())))[0],
    );
    p.list.push(
      (await timed(() => fetch(`${url}/v2/sandboxes?limit=100`, { headers }).then((r) => r.arrayBuffer())))[0],
    );
    p.run.push((await timed(() => s.commands.run('true')))[0]);
  }
  return p;
}

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tb-scale-'));
  const { url, child } = await startServerProcess(dataDir);
  const conn = { domain: url, apiKey: API_KEY };
  const lines: string[] = [];
  const say = (l: string) => {
    lines.push(l);
    process.stderr.write(`${l}\n`);
  };
  const live: Sandbox[] = [];
  try {
    const raw = await rawLaunchRate(200);
    say(`raw namespace launches (unshare, 8 at a time): ${raw.toFixed(0)}/s`);

    await (await Sandbox.create('default', { ...conn, timeoutMs: 600_000 })).kill(); // warm-up
    const burst = await Promise.all(
      Array.from({ length: 100 }, () =>
        timed(async () => {
          const s = await Sandbox.create('default', { ...conn, timeoutMs: 3_600_000 });
          await s.commands.run('true');
          return s;
        }).then(
          ([ms, s]) => ({ ms, s }),
          (e: Error) => ({ ms: NaN, s: undefined, e }),
        ),
      ),
    );
    const ok = burst.filter((b) => b.s);
    const times = ok.map((b) => b.ms);
    const wall = Math.max(...times) / 1000;
    say(
      `100 concurrent creates: ${100 - ok.length} failed, p50 ${fmt(percentile(times, 50))} ms, p95 ` +
        `${fmt(percentile(times, 95))} ms, ${(ok.length / wall).toFixed(1)} creates/s ` +
        `(${((ok.length / wall / raw) * 100).toFixed(0)}% of the raw rate)`,
    );
    live.push(...ok.map((b) => b.s!));

    const probes: Probe[] = [];
    for (const target of CHECKPOINTS) {
      const need = target - live.length;
      const t0 = performance.now();
      const made = await pool(
        Array.from({ length: Math.max(0, need) }, (_, i) => i),
        16,
        () => Sandbox.create('default', { ...conn, timeoutMs: 3_600_000 }).catch((e: Error) => e),
      );
      const failures = made.filter((m) => m instanceof Error) as Error[];
      live.push(...(made.filter((m) => !(m instanceof Error)) as Sandbox[]));
      say(
        `ramp to ${target}: ${need} creates in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
          `${failures.length} failed${failures.length ? ` (${failures[0].message.slice(0, 120)})` : ''}`,
      );
      if (failures.length > need / 2) {
        say(`stopping the ramp at ${live.length}: most creates fail`);
        break;
      }
      probes.push(await probe(url, child.pid!, live, 8));
    }

    const short = await Promise.all(
      Array.from({ length: 10 }, () => Sandbox.create('default', { ...conn, timeoutMs: 10_000 })),
    );
    const started = Date.now();
    const late: number[] = [];
    const pending = new Set(short.map((s) => s.sandboxId));
    while (pending.size && Date.now() - started < 60_000) {
      for (const id of [...pending]) {
        const r = await fetch(`${url}/sandboxes/${id}`, { headers: { 'X-API-Key': API_KEY } });
        if (r.status === 404) {
          pending.delete(id);
          late.push(Date.now() - started - 10_000);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    say(
      `timeouts (10 s, with ${live.length} sandboxes running): gone ${fmt(percentile(late, 50))} ms after their ` +
        `time (p50), worst ${fmt(Math.max(...late))} ms, ${pending.size} never`,
    );

    const [killMs] = await timed(() => pool(live.splice(0), 50, (s) => s.kill().catch(() => {})));
    const left = readdirSync(path.join(dataDir, 'sandboxes')).filter((n) => !n.startsWith('.'));
    const links = readdirSync('/sys/class/net').filter((n) => /^tbo?\d+$/.test(n)).length;
    say(
      `kill all: ${(killMs / 1000).toFixed(1)} s; left behind: ${left.length} state dirs, ${links} sandbox links on ` +
        `the host (other servers' included)`,
    );

    const table = [
      '| sandboxes | GET /health p99 (ms) | GET /sandboxes/{id} p99 | list page p99 | run(true) p95 | server RSS ' +
        '(MB) | server fds | host free (MB) |',
      '|---|---|---|---|---|---|---|---|',
      ...probes.map(
        (p) =>
          `| ${p.at} | ${fmt(percentile(p.health, 99))} | ${fmt(percentile(p.get, 99))} | ` +
          `${fmt(percentile(p.list, 99))} | ${fmt(percentile(p.run, 95))} | ${p.rssMB} | ${p.fds} | ${p.hostFreeMB} |`,
      ),
    ];
    const md = [
      '# Scale (one node)',
      '',
      `Run ${new Date().toISOString()} on this machine (${os.cpus().length} cores, ` +
        `${Math.round(os.totalmem() / 2 ** 30)} GiB), server in its own process. ` +
        'Targets: /health and GET p99 < 50 ms, list page p99 < 100 ms, run(true) p95 < 20 ms, timeouts within 2 s, ' +
        '100 concurrent creates p95 < 1 s with 0 failures and ≥ 50% of the raw launch rate, killing 1000 < 30 s.',
      '',
      ...lines.map((l) => `- ${l}`),
      '',
      ...table,
      '',
    ].join('\n');
    mkdirSync(path.join(REPO, 'bench', 'results'), { recursive: true });
    writeFileSync(path.join(REPO, 'bench', 'results', 'scale.md'), md);
    process.stderr.write(md);
  } finally {
    await pool(live, 50, (s) => s.kill().catch(() => {}));
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`scale bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
