/**
 * Templates benchmark (issue: templates). Beside each Tensor Box number, the same work done by hand in the same run:
 *  - building a small template (fromTemplate default + one RUN step, through the REST build API, until `ready`) vs
 *    creating a sandbox, running the step in it and killing it with the SDK;
 *  - create → first command from a custom template (no startCmd) vs from `default`;
 *  - create → the template's server answers, for a template whose startCmd is an HTTP server: warm start (the build
 *    captured it running after readyCmd passed; sandboxes resume it) vs cold start (the same template with its
 *    warm image ignored: the start command boots in each new sandbox). Once with a server that is ready at once, once
 *    with one that needs 2 s to initialise (what E2B's snapshot-after-ready approach is for).
 * Writes bench/results/templates.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from 'tensor-box';
import { api, startTestServer, type TestServer } from '../tests/helpers/harness.js';
import { markdownTable, percentile, type Row } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS || 10);

async function buildTemplate(s: TestServer, name: string, body: Record<string, unknown>): Promise<string> {
  const reg = await api(s, 'POST', '/v3/templates', { name, cpuCount: 1, memoryMB: 512 });
  if (reg.status !== 202) throw new Error(JSON.stringify(reg.body));
  const start = await api(s, 'POST', `/v2/templates/${reg.body.templateID}/builds/${reg.body.buildID}`, body);
  if (start.status !== 202) throw new Error(JSON.stringify(start.body));
  for (;;) {
    const st = await api(
      s,
      'GET',
      `/templates/${reg.body.templateID}/builds/${reg.body.buildID}/status?logsOffset=100000`,
    );
    if (st.body.status === 'ready') return reg.body.templateID;
    if (st.body.status === 'error') throw new Error(`build failed: ${st.body.reason?.message}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** ms from create until `curl localhost:8000` inside answers (polled every 20 ms). */
async function createUntilServing(s: TestServer, template: string): Promise<{ ms: number; sbx: Sandbox }> {
  const t0 = performance.now();
  const sbx = await Sandbox.create(template, { ...s.conn, timeoutMs: 120_000 });
  for (;;) {
    const r = await sbx.commands.run('curl -sf -o /dev/null localhost:8000/ && echo up || echo down');
    if (r.stdout.trim() === 'up') return { ms: performance.now() - t0, sbx };
    await new Promise((res) => setTimeout(res, 20));
  }
}

function server(delaySec: number): string {
  return `python3 -c "
import http.server, time
time.sleep(${delaySec})
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')
    def log_message(self, *a): pass
http.server.HTTPServer(('0.0.0.0', 8000), H).serve_forever()"`;
}

async function main() {
  const s = await startTestServer();
  const rows: Row[] = [];
  try {
    await (await Sandbox.create('default', s.conn)).kill();
    const step = 'echo hello > /opt/hello && ls /usr/bin | wc -l > /opt/count';

    const builds: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const id = await buildTemplate(s, `bench-small-${i}`, {
        fromTemplate: 'default',
        steps: [{ name: 'hello', command: step }],
      });
      builds.push(performance.now() - t0);
      await api(s, 'DELETE', `/templates/${id}`);
    }
    const byHand: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const sbx = await Sandbox.create('default', s.conn);
      await sbx.commands.run(step, { user: 'root' });
      await sbx.kill();
      byHand.push(performance.now() - t0);
    }
    rows.push({
      what: 'build a small template (fromTemplate default + 1 RUN step) until ready',
      n: RUNS,
      p50: percentile(builds, 50),
      p95: percentile(builds, 95),
      baseline: 'SDK: create sandbox, run the step, kill',
      baseP50: percentile(byHand, 50),
      baseP95: percentile(byHand, 95),
    });

    const custom = await buildTemplate(s, 'bench-custom', {
      fromTemplate: 'default',
      steps: [{ name: 'hello', command: step }],
    });
    const fromCustom: number[] = [];
    const fromDefault: number[] = [];
    for (let i = 0; i < RUNS * 2; i++) {
      for (const [tpl, out] of [
        [custom, fromCustom],
        ['default', fromDefault],
      ] as const) {
        const t0 = performance.now();
        const sbx = await Sandbox.create(tpl, s.conn);
        await sbx.commands.run('true');
        out.push(performance.now() - t0);
        await sbx.kill();
      }
    }
    rows.push({
      what: 'create → first command, custom template (no startCmd)',
      n: RUNS * 2,
      p50: percentile(fromCustom, 50),
      p95: percentile(fromCustom, 95),
      baseline: 'same from `default`',
      baseP50: percentile(fromDefault, 50),
      baseP95: percentile(fromDefault, 95),
    });

    for (const delay of [0, 2]) {
      const id = await buildTemplate(s, `bench-web-${delay}`, {
        fromTemplate: 'default',
        startCmd: server(delay),
        readyCmd: 'curl -sf localhost:8000/',
      });
      const t = (await s.store.findTemplate(id))!;
      if (!t.warmImage) throw new Error('the build did not capture a warm image');
      const warm: number[] = [];
      const cold: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const w = await createUntilServing(s, id);
        warm.push(w.ms);
        await w.sbx.kill();
        // The same template without its warm image: the start command boots in the new sandbox.
        await s.store.upsertTemplate({ ...t, warmImage: undefined });
        const c = await createUntilServing(s, id);
        cold.push(c.ms);
        await c.sbx.kill();
        await s.store.upsertTemplate(t);
      }
      rows.push({
        what: `create → startCmd server answers, warm start (server ${
          delay ? `needing ${delay} s to ` + `initialise` : 'ready at once'
        })`,
        n: RUNS,
        p50: percentile(warm, 50),
        p95: percentile(warm, 95),
        baseline: 'cold start of the same template (startCmd boots in the sandbox)',
        baseP50: percentile(cold, 50),
        baseP95: percentile(cold, 95),
      });
    }
  } catch (err) {
    console.error(s.logs.slice(-30).join('\n'));
    throw err;
  } finally {
    await s.close();
  }
  const out = [
    '# Templates benchmark',
    '',
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
      `kernel ${os.release()}.`,
    'Client: REST (build API) and the `tensor-box` SDK through the server on loopback; baselines in the same ' +
      'process, same run.',
    '"Server answers" is polled from inside the sandbox every 20 ms (`curl localhost:8000`), so it includes one ' +
      'command round trip.',
    '',
    markdownTable(rows),
    '',
  ].join('\n');
  mkdirSync(path.join('bench', 'results'), { recursive: true });
  writeFileSync(path.join('bench', 'results', 'templates.md'), out);
  process.stdout.write(out);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
