/**
 * Filesystem-only pause beside a memory pause, same sandbox shape and payload (a process holding MB of touched
 * memory, a 20 MB file): time of pause() and resume() through the SDK and the size of the pause image. Prints a
 * markdown table (not written to bench/results: numbers on a shared machine are only indicative).
 */
import { execFileSync } from 'node:child_process';
import { Sandbox } from 'tensor-box';
import { startTestServer } from '../tests/helpers/harness.js';
import { markdownTable, percentile, time, type Row } from './stats.js';

const RUNS = Number(process.env.BENCH_FS_PAUSE_RUNS || 3);
const MB = Number(process.env.BENCH_FS_PAUSE_MB || 200);
const payload =
  `import os,time\nN=${MB}*1024*1024\nb=bytearray(N)\nfor i in range(0,N,4096): b[i]=1\n` +
  `open('/tmp/ready','w').write('1')\ntime.sleep(10**6)`;

const s = await startTestServer();
const imageMB = async (id: string) => {
  const dir = (await s.store.getSandbox(id))!.pausedImage!;
  return Number(execFileSync('du', ['-sm', dir], { encoding: 'utf8' }).split('\t')[0]);
};
const rows: Row[] = [];
try {
  const samples: Record<string, number[]> = {};
  const add = (k: string, v: number) => (samples[k] ??= []).push(v);
  for (let r = 0; r < RUNS; r++) {
    for (const keepMemory of [true, false]) {
      const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 });
      try {
        await sbx.commands.run('head -c 20000000 /dev/urandom > /home/user/blob');
        await sbx.files.write('/tmp/p.py', payload);
        (await sbx.commands.run('python3 /tmp/p.py', { background: true })).disconnect();
        while (!(await sbx.files.exists('/tmp/ready'))) await new Promise((x) => setTimeout(x, 100));
        const kind = keepMemory ? 'memory' : 'filesystem-only';
        add(`pause (${kind})`, await time(() => sbx.pause({ keepMemory })));
        execFileSync('sync'); // the disk image's last writes land after pause returns (its lazy unmount)
        await new Promise((x) => setTimeout(x, 500));
        add(`image MB (${kind})`, await imageMB(sbx.sandboxId));
        add(`resume (${kind})`, await time(() => sbx.resume()));
      } finally {
        await sbx.kill();
      }
    }
  }
  for (const what of ['pause', 'resume', 'image MB']) {
    const fs = samples[`${what} (filesystem-only)`];
    const mem = samples[`${what} (memory)`];
    rows.push({
      what: `${what}, filesystem-only (${MB} MB touched, 20 MB file)`,
      n: fs.length,
      p50: percentile(fs, 50),
      p95: percentile(fs, 95),
      baseline: `${what}, with memory (same sandbox shape and payload)`,
      baseP50: percentile(mem, 50),
      baseP95: percentile(mem, 95),
    });
  }
  console.log(markdownTable(rows));
} finally {
  await s.close();
}
