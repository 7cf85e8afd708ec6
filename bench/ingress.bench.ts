/**
 * Terminal and ingress benchmark (issue: terminals, ingress). In the same run:
 *  - PTY keystroke echo latency (one byte in → its echo out) through the server's ingress vs straight to the
 *    sandbox's agent at its own address;
 *  - HTTP request latency to a server in the sandbox through the ingress (Host `<id>-<port>.<domain>`) vs directly to
 *    the sandbox address.
 * Writes bench/results/ingress.md.
 */
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Sandbox } from 'tensor-box';
import { Pty } from '../packages/sdk/src/pty.js';
import { startTestServer } from '../tests/helpers/harness.js';
import { markdownTable, percentile, type Row } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS || 200);

/** Median-friendly echo timing: type one character, wait for it to come back. */
async function echoLatencies(pty: Pty, n: number): Promise<number[]> {
  let out = '';
  const handle = await pty.create({
    cols: 80,
    rows: 24,
    cmd: '/bin/cat',
    onData: (d) => void (out += new TextDecoder().decode(d)),
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      const before = out.length;
      const t0 = performance.now();
      await handle.sendInput(ch);
      while (!out.slice(before).includes(ch)) await new Promise((r) => setImmediate(r));
      times.push(performance.now() - t0);
    }
  } finally {
    await handle.kill().catch(() => {});
  }
  return times;
}

function get(agent: http.Agent, url: string, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: host ? { host } : {} }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

async function httpLatencies(n: number, url: string, host?: string): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  try {
    for (let i = 0; i < 10; i++) await get(agent, url, host); // warm-up
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await get(agent, url, host);
      times.push(performance.now() - t0);
    }
  } finally {
    agent.destroy();
  }
  return times;
}

async function main() {
  const server = await startTestServer();
  const rows: Row[] = [];
  try {
    const sbx = await Sandbox.create('default', { ...server.conn, timeoutMs: 600_000 });
    try {
      const rec = (await server.store.getSandbox(sbx.sandboxId))!;
      const token = rec.envdAccessToken;
      const viaIngress = new Pty({ apiUrl: server.url, sandboxId: sbx.sandboxId, accessToken: token });
      const direct = new Pty({ apiUrl: rec.runtime!.envdUrl, sandboxId: sbx.sandboxId, accessToken: token });
      await echoLatencies(viaIngress, 20); // warm-up
      const ing = await echoLatencies(viaIngress, RUNS);
      const dir = await echoLatencies(direct, RUNS);
      rows.push({
        what: 'PTY keystroke echo, through the ingress',
        n: RUNS,
        p50: percentile(ing, 50),
        p95: percentile(ing, 95),
        baseline: 'same, straight to the agent at the sandbox address',
        baseP50: percentile(dir, 50),
        baseP95: percentile(dir, 95),
      });

      await sbx.commands.run('mkdir -p /tmp/www && echo served > /tmp/www/index.html');
      (await sbx.commands.run('cd /tmp/www && python3 -m http.server 8000', { background: true })).disconnect();
      const host = sbx.getHost(8000);
      for (let i = 0; i < 100; i++) {
        if (
          await get(new http.Agent(), `${server.url}/index.html`, host).then(
            () => true,
            () => false,
          )
        )
          break;
        await sleep(100);
      }
      const viaHost = await httpLatencies(RUNS, `${server.url}/index.html`, host);
      const straight = await httpLatencies(RUNS, `http://${rec.runtime!.address}:8000/index.html`);
      rows.push({
        what: 'HTTP GET to a sandbox port, through the ingress (Host name)',
        n: RUNS,
        p50: percentile(viaHost, 50),
        p95: percentile(viaHost, 95),
        baseline: 'same request straight to the sandbox address',
        baseP50: percentile(straight, 50),
        baseP95: percentile(straight, 95),
      });
    } finally {
      await sbx.kill();
    }
  } finally {
    await server.close();
  }
  const out = [
    '# Terminal and ingress benchmark',
    '',
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `kernel ${os.release()}.`,
    "PTY: the SDK's terminal running `cat`; one character typed, timed until it is echoed back. HTTP: `python3 -m " +
      'http.server`',
    'in the sandbox, one keep-alive connection, sequential GETs. Baselines ran in the same process, same run.',
    '',
    markdownTable(rows),
    '',
  ].join('\n');
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/ingress.md', import.meta.url), out);
  process.stdout.write(out);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
