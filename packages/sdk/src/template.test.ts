/**
 * Wire tests of the Template SDK against a small fake server: what each call sends, waitForBuild's log paging (more
 * than one page after the build ended) and BuildError, uploadFiles' hash and skip, commitAsTemplate with wait: false.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BuildError, NotFoundError, Template } from './index.js';
import { commitSandbox } from './template.js';

interface Seen {
  method: string;
  url: string;
  body: Buffer;
}
const seen: Seen[] = [];
let server: http.Server;
let conn: { domain: string; apiKey: string };
/** Test-set handler: returns [status, json body]. */
let handle: (req: Seen) => [number, unknown] = () => [404, { code: 404, message: 'no route' }];

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, body: Buffer.concat(chunks) };
      seen.push(s);
      const [status, body] = handle(s);
      res.writeHead(status, { 'content-type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  conn = { domain: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: 'e2b_test' };
});
after(() => server.close());

const json = (s: Seen) => JSON.parse(s.body.toString() || 'null');
const entry = (i: number, step?: string) => ({
  timestamp: new Date(1000 * i).toISOString(),
  level: 'info',
  message: `line ${i}`,
  ...(step ? { step } : {}),
});

describe('Template (wire)', () => {
  it('create sends diskSizeMB; startBuild turns {name, command} into RUN steps and needs one source', async () => {
    seen.length = 0;
    handle = (s) =>
      s.url === '/v3/templates'
        ? [202, { templateID: 't1', buildID: 'b1', public: false, names: ['n'], aliases: ['n'], tags: [] }]
        : [202, undefined];
    const created = await Template.create({ name: 'n', cpuCount: 2, memoryMB: 1024, diskGB: 3 }, conn);
    assert.equal(created.templateID, 't1');
    assert.deepEqual(json(seen[0]), { name: 'n', cpuCount: 2, memoryMB: 1024, diskSizeMB: 3072 });
    await Template.startBuild(
      't1',
      'b1',
      {
        fromTemplate: 'default',
        steps: [
          { name: 'deps', command: 'apt-get install -y x' },
          { type: 'ENV', args: ['A', '1'] },
        ],
        startCmd: 's',
        readyCmd: 'r',
      },
      conn,
    );
    assert.equal(seen[1].url, '/v2/templates/t1/builds/b1');
    assert.deepEqual(json(seen[1]), {
      fromTemplate: 'default',
      steps: [
        { type: 'RUN', args: ['apt-get install -y x'], name: 'deps' },
        { type: 'ENV', args: ['A', '1'] },
      ],
      startCmd: 's',
      readyCmd: 'r',
    });
    await assert.rejects(
      Template.startBuild('t1', 'b1', { fromTemplate: 'a', fromImage: 'b' }, conn),
      /exactly one of fromTemplate, fromImage or dockerfile \(got fromTemplate, fromImage\)/,
    );
    await assert.rejects(Template.startBuild('t1', 'b1', {}, conn), /exactly one/);
  });

  it(
    'waitForBuild passes every entry to onLog in order, reads ' +
      'the rest of the log after the end, and resolves when ready',
    async () => {
      const total = 2500;
      let polls = 0;
      handle = (s) => {
        const u = new URL(s.url, 'http://x');
        const offset = Number(u.searchParams.get('logsOffset') ?? 0);
        const limit = Number(u.searchParams.get('limit') ?? 1000);
        polls++;
        // Building for two polls (100 entries each), then ready with the remaining 2300 entries to read in pages.
        const available = polls <= 2 ? polls * 100 : total;
        const logEntries = Array.from({ length: Math.max(0, Math.min(limit, available - offset)) }, (_, i) =>
          entry(offset + i, 's'),
        );
        return [
          200,
          {
            templateID: 't1',
            buildID: 'b1',
            status: polls <= 2 ? 'building' : 'ready',
            logs: logEntries.map((e) => e.message),
            logEntries,
          },
        ];
      };
      const got: string[] = [];
      const final = await Template.waitForBuild('t1', 'b1', { intervalMs: 1, onLog: (e) => got.push(e.message) }, conn);
      assert.equal(final.status, 'ready');
      assert.equal(got.length, total);
      assert.deepEqual(got.slice(0, 3), ['line 0', 'line 1', 'line 2']);
      assert.equal(got.at(-1), `line ${total - 1}`);
      assert.equal(final.logEntries.length, total);
      assert.ok(final.logEntries[0].timestamp instanceof Date);
    },
  );

  it('waitForBuild throws BuildError with the step and exit code; getBuildStatus maps the reason', async () => {
    handle = () => [
      200,
      {
        templateID: 't1',
        buildID: 'b1',
        status: 'error',
        logs: [],
        logEntries: [],
        reason: {
          message: "step 'boom' failed with exit code 3",
          step: 'boom',
          exitCode: 3,
          logEntries: [entry(1, 'boom')],
        },
      },
    ];
    await assert.rejects(Template.waitForBuild('t1', 'b1', conn), (err: unknown) => {
      assert.ok(err instanceof BuildError);
      assert.equal(err.step, 'boom');
      assert.equal(err.exitCode, 3);
      assert.equal(err.templateID, 't1');
      assert.match(err.message, /boom/);
      return true;
    });
    const st = await Template.getBuildStatus('t1', 'b1', conn);
    assert.equal(st.reason?.logEntries?.[0].message, 'line 1');
  });

  it('waitForBuild gives up after timeoutMs', async () => {
    handle = () => [200, { templateID: 't1', buildID: 'b1', status: 'building', logs: [], logEntries: [] }];
    await assert.rejects(
      Template.waitForBuild('t1', 'b1', { ...conn, intervalMs: 20, timeoutMs: 50 }),
      /still building after 50 ms/,
    );
  });

  it('getBuildLogs pages with offset/limit and falls back to offset + length for nextOffset', async () => {
    handle = (s) => {
      const u = new URL(s.url, 'http://x');
      return [200, { logs: [entry(Number(u.searchParams.get('offset')))] }];
    };
    const r = await Template.getBuildLogs('t1', 'b1', { offset: 7, limit: 1 }, conn);
    assert.equal(seen.at(-1)!.url, '/templates/t1/builds/b1/logs?offset=7&limit=1');
    assert.deepEqual(
      r.logs.map((l) => l.message),
      ['line 7'],
    );
    assert.equal(r.nextOffset, 8);
  });

  it('uploadFiles hashes the tar (sha256 hex), PUTs it only when the server lacks it', async () => {
    const tar = Buffer.from('pretend this is a tar');
    const hash = createHash('sha256').update(tar).digest('hex');
    let present = false;
    handle = (s) =>
      s.method === 'GET' ? [201, { present, url: `${conn.domain}/templates/t1/files/${hash}` }] : [201, undefined];
    seen.length = 0;
    assert.deepEqual(await Template.uploadFiles('t1', tar, conn), { hash, uploaded: true });
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url}`),
      [`GET /templates/t1/files/${hash}`, `PUT /templates/t1/files/${hash}`],
    );
    assert.ok(seen[1].body.equals(tar));
    present = true;
    seen.length = 0;
    assert.deepEqual(await Template.uploadFiles('t1', tar, conn), { hash, uploaded: false });
    assert.equal(seen.length, 1);
  });

  it('delete and exists answer false on 404; get maps dates; other errors are mapped', async () => {
    handle = () => [404, { code: 404, message: "template 'x' not found" }];
    assert.equal(await Template.delete('x', conn), false);
    assert.equal(await Template.exists('x', conn), false);
    await assert.rejects(Template.get('x', conn), NotFoundError);
    const now = new Date().toISOString();
    handle = () => [
      200,
      {
        templateID: 't1',
        public: false,
        names: ['n'],
        aliases: ['n'],
        createdAt: now,
        updatedAt: now,
        spawnCount: 0,
        buildCount: 1,
        builds: [
          {
            buildID: 'b1',
            status: 'ready',
            createdAt: now,
            updatedAt: now,
            finishedAt: now,
            cpuCount: 1,
            memoryMB: 512,
            diskSizeMB: 1024,
            envdVersion: '1',
          },
        ],
      },
    ];
    const t = await Template.get('t1', conn);
    assert.ok(t.builds[0].finishedAt instanceof Date);
  });

  it('commitSandbox with wait: false returns the status without polling', async () => {
    seen.length = 0;
    handle = (s) =>
      s.method === 'POST'
        ? [202, { templateID: 't2', buildID: 'b2', public: false, names: ['c'], aliases: ['c'], tags: [] }]
        : [200, { templateID: 't2', buildID: 'b2', status: 'building', logs: [], logEntries: [] }];
    const r = await commitSandbox('sbx1', 'c', { ...conn, cpuCount: 1, memoryMB: 512, diskGB: 2, wait: false });
    assert.deepEqual(r, { templateID: 't2', buildID: 'b2', status: 'building' });
    assert.equal(seen[0].url, '/sandboxes/sbx1/commit');
    assert.deepEqual(json(seen[0]), { name: 'c', cpuCount: 1, memoryMB: 512, diskSizeMB: 2048 });
    assert.equal(seen.length, 2);
  });
});
