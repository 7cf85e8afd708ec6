/**
 * Pause/resume benchmark (issue: pause and resume). For each amount of touched memory (≈50 MB, 500 MB, 1 GiB) in a
 * sandbox, the SDK's pause() and resume() beside a raw `criu dump` / `criu restore -d` of the same payload run as a
 * plain host process in the same run; plus cgroup freeze/thaw (the hot path). Writes bench/results/pause.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from 'tensor-box';
import { SandboxCgroup, detectLayout } from '@tensor-box/runtime';
import { startTestServer } from '../tests/helpers/harness.js';
import { markdownTable, percentile, time, type Row } from './stats.js';

const RUNS = Number(process.env.BENCH_PAUSE_RUNS || 3);
const SIZES_MB = (process.env.BENCH_PAUSE_SIZES_MB || '50,500,1024').split(',').map(Number);
const CRIU = fileURLToPath(new URL('../build/criu', import.meta.url));
const LAUNCHER = fileURLToPath(new URL('../build/tb-launch', import.meta.url));

/** A Python process holding `mb` MiB with every page written. */
const payload = (mb: number) =>
  `import os,time\nN=${mb}*1024*1024\nb=bytearray(N)\nfor i in range(0,N,4096): ` +
  `b[i]=1\nopen('/tmp/ready','w').write(str(os.getpid()))\ntime.sleep(10**6)`;

/**
 * Raw CRIU on a host process with the same payload: RUNS × (dump, which kills it; restore detached). Runs as a shell
 * script under `tb-launch reap` (a subreaper), which prints one "<dump ns> <restore ns>" line per run.
 */
async function rawCriu(mb: number): Promise<{ dump: number[]; restore: number[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-rawcriu-'));
  const script = `
set -e
cd ${dir}
setsid python3 -c "$PAYLOAD" </dev/null >/dev/null 2>&1 &
for i in $(seq 1200); do [ -s ready ] && break; sleep 0.05; done
pid=$(cat ready)
for r in $(seq ${RUNS}); do
  mkdir img$r
  t0=$(date +%s%N)
  ${CRIU} dump -t $pid -D img$r -o dump.log
  t1=$(date +%s%N)
  d=$((t1-t0))
  sync
  t1=$(date +%s%N)
  ${CRIU} restore -D img$r -o restore.log -d --pidfile $PWD/img$r/pid
  t2=$(date +%s%N)
  pid=$(cat img$r/pid)
  echo "$d $((t2-t1))"
  rm -rf img$r
done
kill -9 $pid
`;
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(LAUNCHER, ['reap', '--', 'bash', '-c', script], {
        env: { ...process.env, PAYLOAD: payload(mb).replace("'/tmp/ready'", "'ready'") },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let o = '';
      p.stdout.setEncoding('utf8').on('data', (d) => (o += d));
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`raw criu script exited ${code}`))));
    });
    const lines = out
      .trim()
      .split('\n')
      .map((l) => l.split(' ').map((x) => Number(x) / 1e6));
    return { dump: lines.map((l) => l[0]), restore: lines.map((l) => l[1]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/** Whether CRIU's lazy-pages daemon of this sandbox still runs (pages still arriving after a resume). */
function lazyLoading(sandboxId: string): boolean {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const argv = safeRead(`/proc/${p}/cmdline`).split('\0');
    if (/criu$/.test(argv[0]) && argv[1] === 'lazy-pages' && argv.some((a) => a.endsWith(`/sandboxes/${sandboxId}`)))
      return true;
  }
  return false;
}

function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

async function main() {
  const server = await startTestServer();
  const rows: Row[] = [];
  try {
    for (const mb of SIZES_MB) {
      const sbx = await Sandbox.create('default', { ...server.conn, timeoutMs: 900_000 });
      try {
        await sbx.files.write('/tmp/payload.py', payload(mb));
        (await sbx.commands.run('python3 /tmp/payload.py', { background: true })).disconnect();
        for (let i = 0; i < 1200 && !(await sbx.files.exists('/tmp/ready')); i++) await sleep(50);
        const pauses: number[] = [];
        const resumes: number[] = [];
        const settled: number[] = [];
        for (let r = 0; r < RUNS; r++) {
          pauses.push(await time(() => sbx.pause()));
          await run('sync', []); // resume is timed on a settled host: the pause's images written out
          const t0 = performance.now();
          await sbx.resume();
          resumes.push(performance.now() - t0);
          // Pages keep arriving in the background after resume returns; the next pause is timed once all are in.
          while (lazyLoading(sbx.sandboxId)) await sleep(5);
          settled.push(performance.now() - t0);
        }
        // The payload survived every cycle. (Right after a lazy resume /proc/<pid>/cmdline can read empty until the
        // page holding argv has arrived, so pgrep -f may briefly miss it.)
        let alive = false;
        for (let i = 0; i < 100 && !alive; i++) {
          alive = (await sbx.commands.run('pgrep -f payload.py || true')).stdout.trim() !== '';
          if (!alive) await sleep(100);
        }
        if (!alive) throw new Error('payload process lost');
        const raw = await rawCriu(mb);
        const label = mb >= 1024 ? `${mb / 1024} GiB` : `${mb} MB`;
        rows.push({
          what: `pause, ${label} touched`,
          n: RUNS,
          p50: percentile(pauses, 50),
          p95: percentile(pauses, 95),
          baseline: 'raw `criu dump` of the same payload (host process)',
          baseP50: percentile(raw.dump, 50),
          baseP95: percentile(raw.dump, 95),
          target: `< ${Math.round((mb / 1024) * 1000)} ms (1 s/GiB)`,
        });
        rows.push({
          what: `resume, ${label} touched`,
          n: RUNS,
          p50: percentile(resumes, 50),
          p95: percentile(resumes, 95),
          baseline: 'raw `criu restore -d` of the same payload',
          baseP50: percentile(raw.restore, 50),
          baseP95: percentile(raw.restore, 95),
          target: mb >= 1024 ? '< 250 ms' : '',
        });
        rows.push({
          what: `resume → every page in (background), ${label}`,
          n: RUNS,
          p50: percentile(settled, 50),
          p95: percentile(settled, 95),
          baseline: 'raw `criu restore -d` (eager)',
          baseP50: percentile(raw.restore, 50),
          baseP95: percentile(raw.restore, 95),
        });
        if (mb === SIZES_MB[0]) {
          const rec = await server.store.getSandbox(sbx.sandboxId);
          const cg = new SandboxCgroup(detectLayout(), 'tensor-box', sbx.sandboxId);
          const freezes: number[] = [];
          const thaws: number[] = [];
          for (let r = 0; r < 10; r++) {
            freezes.push(await time(() => cg.freeze()));
            thaws.push(await time(() => cg.thaw()));
          }
          if (!rec) throw new Error('no record');
          rows.push({
            what: `freeze (cgroup), ${label}`,
            n: 10,
            p50: percentile(freezes, 50),
            p95: percentile(freezes, 95),
            baseline: 'thaw (cgroup)',
            baseP50: percentile(thaws, 50),
            baseP95: percentile(thaws, 95),
          });
        }
      } finally {
        await sbx.kill();
      }
    }
  } finally {
    await server.close();
  }
  const out = [
    '# Pause / resume benchmark',
    '',
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `kernel ${os.release()}.`,
    'Tensor Box: `sandbox.pause()` / `sandbox.resume()` through the SDK and the server (CRIU 4.2.1 dump to the ' +
      'local snapshot',
    'store, overlay upper dir moved, host resources released; restore into a fresh netns). Baseline: raw CRIU on a ' +
      'host',
    'process holding the same touched memory, same run. Resume is lazy: the processes run as soon as CRIU has ' +
      'rebuilt them',
    'and memory pages arrive on first touch (userfaultfd) or in the background; the "every page in" row is when the ' +
      'last',
    'one arrived. Pauses are timed on a settled sandbox (all pages in); resumes, ours and raw, after `sync` (the ' +
      "pause's",
    'images written out — a paused sandbox normally sits a while before it is resumed).',
    '',
    markdownTable(rows),
    '',
  ].join('\n');
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/pause.md', import.meta.url), out);
  process.stdout.write(out);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
