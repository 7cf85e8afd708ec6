/**
 * Template builds against a real server and real sandboxes, over the REST API (E2B's build paths): steps with ENV,
 * WORKDIR, USER and COPY, layers shared with the parent, startCmd + readyCmd captured warm, Dockerfile builds with a
 * build context, commit-as-template, fromImage debian:bookworm, and the bad-input paths (failed step, unknown parent,
 * bad requests, deleting a template in use).
 * Over 400 lines on purpose: the cases share one server and its built templates (building them again costs minutes).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NotEnoughSpaceError, Sandbox } from 'tensor-box';
import { api, run, startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ readyTimeoutMs: 10_000 });
});
after(async () => {
  await s?.close();
});

let n = 0;
const uniq = (p: string) => `${p}-${process.pid}-${n++}`;

/** Registers and starts a build; returns the IDs. */
async function build(name: string, body: Record<string, unknown>, create: Record<string, unknown> = {}) {
  const reg = await api(s, 'POST', '/v3/templates', { name, ...create });
  assert.equal(reg.status, 202, JSON.stringify(reg.body));
  const start = await api(s, 'POST', `/v2/templates/${reg.body.templateID}/builds/${reg.body.buildID}`, body);
  return { templateID: reg.body.templateID as string, buildID: reg.body.buildID as string, start };
}

/** Polls the build status (collecting the log incrementally, as the E2B SDK does) until it ends. */
async function waitBuild(templateID: string, buildID: string, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  const lines: any[] = [];
  for (;;) {
    const r = await api(s, 'GET', `/templates/${templateID}/builds/${buildID}/status?logsOffset=${lines.length}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    lines.push(...r.body.logEntries);
    if (r.body.status === 'ready' || r.body.status === 'error') return { ...r.body, all: lines };
    if (Date.now() > deadline)
      throw new Error(`build ${buildID} still ${r.body.status}: ${lines.map((l) => l.message).join('\n')}`);
    await new Promise((res) => setTimeout(res, 300));
  }
}

async function sandbox(template: string) {
  return Sandbox.create(template, { ...s.conn, timeoutMs: 120_000 });
}

describe('template builds', () => {
  let base: { templateID: string; name: string };

  it(
    'builds fromTemplate default with RUN/ENV/WORKDIR/USER ' + 'steps; sandboxes start with its files and defaults',
    async () => {
      const name = uniq('tools');
      const b = await build(
        name,
        {
          fromTemplate: 'default',
          steps: [
            { name: 'marker', command: 'echo built-by-step > /opt/marker && id -un > /opt/ran-as' },
            { type: 'ENV', args: ['GREETING', 'hello template', 'LEVEL', '2'] },
            { type: 'WORKDIR', args: ['/srv/app'] },
            { type: 'RUN', args: ['echo "$GREETING" > greeting.txt && pwd > where.txt'] },
            { type: 'USER', args: ['user'] },
            { type: 'RUN', args: ['id -un > /tmp/build-user'], name: 'as user' },
          ],
        },
        { cpuCount: 1, memoryMB: 512 },
      );
      assert.equal(b.start.status, 202, JSON.stringify(b.start.body));
      const st = await waitBuild(b.templateID, b.buildID);
      assert.equal(st.status, 'ready', st.all.map((l: any) => l.message).join('\n'));
      // The log carries the step progress lines and the steps' output, tagged with the step.
      assert.ok(
        st.all.some(
          (l: any) =>
            l.message === '[1/6] RUN echo built-by-step > /opt/marker && id -un > /opt/ran-as' && l.step === 'marker',
        ),
        'progress line',
      );
      assert.ok(st.all.some((l: any) => /build ready/.test(l.message)));

      const detail = await api(s, 'GET', `/templates/${name}`);
      assert.equal(detail.status, 200);
      assert.equal(detail.body.templateID, b.templateID);
      assert.equal(detail.body.buildStatus, 'ready');
      assert.equal(detail.body.parentTemplateID, 'default');
      assert.equal(detail.body.cpuCount, 1);
      assert.equal(detail.body.builds[0].buildID, b.buildID);
      assert.equal(detail.body.builds[0].status, 'ready');
      const listed = await api(s, 'GET', '/templates');
      assert.ok(
        listed.body.some(
          (t: any) => t.templateID === b.templateID && t.buildStatus === 'ready' && t.names.includes(name),
        ),
      );
      const alias = await api(s, 'GET', `/templates/aliases/${name}`);
      assert.equal(alias.body.templateID, b.templateID);

      // By name (and by ID): the files, environment, working directory and user of the build.
      const sbx = await sandbox(name);
      try {
        const r = await sbx.commands.run(
          'cat /opt/marker /opt/ran-as greeting.txt where.txt /tmp/build-user; echo "$LEVEL"; pwd; id -un',
        );
        assert.equal(r.stdout, 'built-by-step\nroot\nhello template\n/srv/app\nuser\n2\n/srv/app\nuser\n');
        const info = await api(s, 'GET', `/sandboxes/${sbx.sandboxId}`);
        assert.equal(info.body.templateID, b.templateID);
        assert.equal(info.body.cpuCount, 1);
        assert.equal(info.body.memoryMB, 512);
      } finally {
        await sbx.kill();
      }
      base = { templateID: b.templateID, name };
    },
  );

  it('derives a template from a built one, sharing its layers on disk', async () => {
    const name = uniq('derived');
    const b = await build(name, {
      fromTemplate: base.name,
      steps: [{ name: 'more', command: 'echo second > /opt/second' }],
    });
    assert.equal((await waitBuild(b.templateID, b.buildID)).status, 'ready');
    const parent = (await s.store.findTemplate(base.templateID))!;
    const child = (await s.store.findTemplate(b.templateID))!;
    assert.deepEqual(child.layers.slice(1), parent.layers, 'the child stacks one layer on the very same parent layers');
    assert.equal(child.layers.length, parent.layers.length + 1);
    const sbx = await sandbox(b.templateID);
    try {
      assert.equal((await sbx.commands.run('cat /opt/marker /opt/second')).stdout, 'built-by-step\nsecond\n');
    } finally {
      await sbx.kill();
    }
    // The parent cannot go while a template stands on it.
    const del = await api(s, 'DELETE', `/templates/${base.templateID}`);
    assert.equal(del.status, 409);
    assert.match(del.body.message, /in use by template/);
    assert.equal((await api(s, 'DELETE', `/templates/${b.templateID}`)).status, 204);
    assert.ok(!existsSync(path.dirname(child.layers[0])), 'the deleted template layer is gone');
    assert.equal((await api(s, 'GET', `/templates/${b.templateID}`)).status, 404);
  });

  it(
    'a failing step ends the build in error naming the ' + 'step, its exit code and the log tail; nothing is left',
    async () => {
      const name = uniq('broken');
      const b = await build(name, {
        fromTemplate: 'default',
        steps: [
          { name: 'ok', command: 'echo fine' },
          { name: 'deps', command: 'echo about to fail; echo oops >&2; exit 3' },
          { name: 'never', command: 'touch /never' },
        ],
      });
      const st = await waitBuild(b.templateID, b.buildID);
      assert.equal(st.status, 'error');
      assert.equal(st.reason.step, 'deps');
      assert.equal(st.reason.exitCode, 3);
      assert.match(st.reason.message, /deps.*exit code 3/);
      assert.ok(
        st.reason.logEntries.some((l: any) => l.message === 'oops' && l.level === 'warn'),
        'stderr in the log tail',
      );
      assert.ok(!st.all.some((l: any) => /\[3\/3\]/.test(l.message)), 'later steps did not run');
      // Listed with its status (so it can be inspected) but it cannot start sandboxes, and no layer is on disk.
      const t = await api(s, 'GET', `/templates/${name}`);
      assert.equal(t.body.buildStatus, 'error');
      assert.equal(t.body.builds[0].reason.step, 'deps');
      const create = await api(s, 'POST', '/sandboxes', { templateID: name });
      assert.equal(create.status, 409);
      assert.match(create.body.message, /no ready build.*exit code 3/);
      assert.ok(!existsSync(path.join(s.dataDir, 'templates', b.templateID, b.buildID)), 'no layer left');
      // A new build of the same name fixes it.
      const again = await build(name, { fromTemplate: 'default', steps: [{ name: 'deps', command: 'true' }] });
      assert.equal(again.templateID, b.templateID, 'same template, new build');
      assert.equal((await waitBuild(again.templateID, again.buildID)).status, 'ready');
      assert.equal((await api(s, 'GET', `/templates/${name}`)).body.builds.length, 2);
      assert.equal((await api(s, 'DELETE', `/templates/${name}`)).status, 204);
    },
  );

  it('answers bad requests clearly and registers nothing half-made', async () => {
    const unknownParent = await build(uniq('orphan'), { fromTemplate: 'no-such-template' });
    assert.equal(unknownParent.start.status, 404);
    assert.match(unknownParent.start.body.message, /template 'no-such-template' not found/);
    const unknownImage = await build(uniq('img'), { fromImage: 'ubuntu:24.04' });
    assert.equal(unknownImage.start.status, 404);
    assert.match(unknownImage.start.body.message, /ubuntu:24.04.*not found/);
    const two = await build(uniq('two'), { fromTemplate: 'default', fromImage: 'debian:bookworm' });
    assert.equal(two.start.status, 400);
    assert.match(two.start.body.message, /exactly one of/);
    const none = await build(uniq('none'), { steps: [] });
    assert.equal(none.start.status, 400);
    const badStep = await build(uniq('step'), {
      fromTemplate: 'default',
      steps: [{ type: 'ENV', args: ['1BAD', 'x'] }],
    });
    assert.equal(badStep.start.status, 400);
    assert.match(badStep.start.body.message, /steps\[0\].*not a valid environment variable/);
    const noFiles = await build(uniq('copy'), {
      fromTemplate: 'default',
      steps: [{ type: 'COPY', args: ['a', '/a'], filesHash: 'deadbeefdeadbeef' }],
    });
    assert.equal(noFiles.start.status, 400);
    assert.match(noFiles.start.body.message, /no files were uploaded/);
    // The build did not start: it is still waiting and can be started correctly.
    const ok = await api(s, 'POST', `/v2/templates/${two.templateID}/builds/${two.buildID}`, {
      fromTemplate: 'default',
    });
    assert.equal(ok.status, 202);
    const twice = await api(s, 'POST', `/v2/templates/${two.templateID}/builds/${two.buildID}`, {
      fromTemplate: 'default',
    });
    assert.equal(twice.status, 409);
    assert.equal((await waitBuild(two.templateID, two.buildID)).status, 'ready');

    assert.equal((await api(s, 'POST', '/v3/templates', { name: 'Bad Name!' })).status, 400);
    assert.equal((await api(s, 'POST', '/v3/templates', { name: 'default' })).status, 409);
    assert.equal((await api(s, 'POST', '/v3/templates', {})).status, 400);
    assert.equal((await api(s, 'GET', `/templates/${two.templateID}/builds/nope/status`)).status, 404);
    assert.equal((await api(s, 'GET', '/templates/nope/builds/nope/logs')).status, 404);
    assert.equal((await api(s, 'DELETE', '/templates/default')).status, 409);
    assert.equal((await api(s, 'DELETE', '/templates/no-such-template')).status, 404);
    for (const t of [unknownParent, unknownImage, two, none, badStep, noFiles])
      await api(s, 'DELETE', `/templates/${t.templateID}`);
  });

  it(
    "applies the template's diskSizeMB: writing past it fails " +
      'with ENOSPC inside, and an upload raises NotEnoughSpaceError',
    async () => {
      const name = uniq('small-disk');
      const b = await build(name, { fromTemplate: 'default', steps: [{ command: 'true' }] }, { diskSizeMB: 256 });
      assert.equal((await waitBuild(b.templateID, b.buildID)).status, 'ready');
      const sbx = await sandbox(name);
      try {
        assert.equal((await api(s, 'GET', `/sandboxes/${sbx.sandboxId}`)).body.diskSizeMB, 256);
        const r = await sbx.commands.run(
          'dd if=/dev/zero of=/home/user/fill bs=1M count=400 2>&1; echo "exit=$?"; df -m /home/user | tail -1',
        );
        assert.match(r.stdout, /No space left on device/);
        assert.match(r.stdout, /exit=1/);
        await sbx.commands.run('rm -f /home/user/fill');
        await assert.rejects(
          sbx.files.write('/home/user/big.bin', new Uint8Array(400 * 1024 * 1024)),
          (e: Error) => e instanceof NotEnoughSpaceError,
        );
        // The sandbox still works after the failed upload.
        assert.equal((await sbx.commands.run('rm -f /home/user/big.bin; echo ok')).stdout, 'ok\n');
      } finally {
        await sbx.kill();
      }
      await api(s, 'DELETE', `/templates/${name}`);
    },
  );

  it('refuses to delete a template while a sandbox uses it', async () => {
    const name = uniq('inuse');
    const b = await build(name, { fromTemplate: 'default', steps: [{ command: 'true' }] });
    assert.equal((await waitBuild(b.templateID, b.buildID)).status, 'ready');
    const sbx = await sandbox(name);
    const del = await api(s, 'DELETE', `/templates/${name}`);
    assert.equal(del.status, 409);
    assert.match(del.body.message, /in use by 1 sandbox/);
    await sbx.kill();
    assert.equal((await api(s, 'DELETE', `/templates/${name}`)).status, 204);
  });

  it('captures startCmd after readyCmd passes: sandboxes resume with the server already answering', async () => {
    const name = uniq('web');
    const b = await build(name, {
      fromTemplate: 'default',
      steps: [{ name: 'site', command: 'mkdir -p /srv/www && echo warm-page > /srv/www/index.html' }],
      // The server keeps a counter in memory: a warm start continues it instead of starting at zero.
      startCmd: `python3 -c "
import http.server, itertools
c = itertools.count(1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('%d' % next(c)).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(('0.0.0.0', 8000), H).serve_forever()"`,
      readyCmd: 'curl -sf localhost:8000/',
    });
    const st = await waitBuild(b.templateID, b.buildID);
    assert.equal(st.status, 'ready', st.all.map((l: any) => l.message).join('\n'));
    const t = await api(s, 'GET', `/templates/${name}`);
    assert.equal(t.body.warmStart, true, st.all.map((l: any) => l.message).join('\n'));
    const sbx = await sandbox(name);
    try {
      // No waiting: the first request after create is answered, and the count continues from the build's probes.
      const r = await sbx.commands.run('curl -sf localhost:8000/');
      assert.ok(Number(r.stdout) > 1, `counter continued (got ${r.stdout})`);
      assert.equal((await sbx.commands.run('cat /srv/www/index.html')).stdout, 'warm-page\n');
      await sbx.files.write('/tmp/mine', 'x');
    } finally {
      await sbx.kill();
    }
    const other = await sandbox(name);
    try {
      assert.equal(
        (await other.commands.run('test -e /tmp/mine && echo yes || echo no')).stdout,
        'no\n',
        'each sandbox has its own writable layer',
      );
    } finally {
      await other.kill();
    }
    assert.equal((await api(s, 'DELETE', `/templates/${name}`)).status, 204);
  });

  it('a readyCmd that never passes fails the build at the ready step', async () => {
    const name = uniq('notready');
    const b = await build(name, { fromTemplate: 'default', startCmd: 'sleep 600', readyCmd: 'false' });
    // Shortened through the server option in before(): 10 s.
    const st = await waitBuild(b.templateID, b.buildID, 120_000);
    assert.equal(st.status, 'error');
    assert.equal(st.reason.step, 'ready', JSON.stringify(st.reason));
    assert.match(st.reason.message, /ready command did not pass/);
    await api(s, 'DELETE', `/templates/${name}`);
  });

  it('builds a Dockerfile with COPY from an uploaded build context, ENV, WORKDIR and CMD', async () => {
    const ctx = mkdtempSync(path.join(os.tmpdir(), 'tb-ctx-'));
    try {
      mkdirSync(path.join(ctx, 'app', 'lib'), { recursive: true });
      writeFileSync(path.join(ctx, 'app', 'main.sh'), '#!/bin/sh\necho "main $MODE"\n', { mode: 0o755 });
      writeFileSync(path.join(ctx, 'app', 'lib', 'data.txt'), 'data\n');
      writeFileSync(path.join(ctx, 'README'), 'readme\n');
      const tar = path.join(ctx, '..', `${path.basename(ctx)}.tar`);
      await run('tar', ['-czf', tar, '-C', ctx, '.']);
      const bytes = readFileSync(tar);
      const hash = createHash('sha256').update(bytes).digest('hex');
      const name = uniq('docker');
      const reg = await api(s, 'POST', '/v3/templates', { name });
      const link = await api(s, 'GET', `/templates/${reg.body.templateID}/files/${hash}`);
      assert.equal(link.status, 201);
      assert.equal(link.body.present, false);
      const put = await fetch(link.body.url, { method: 'PUT', headers: { 'X-API-Key': s.apiKey }, body: bytes });
      assert.equal(put.status, 201);
      assert.equal((await api(s, 'GET', `/templates/${reg.body.templateID}/files/${hash}`)).body.present, true);
      const notTar = await fetch(`${s.url}/templates/${reg.body.templateID}/files/${'0'.repeat(16)}`, {
        method: 'PUT',
        headers: { 'X-API-Key': s.apiKey },
        body: 'not a tar',
      });
      assert.equal(notTar.status, 400);
      const dockerfile = [
        '# a comment',
        'FROM default',
        'ARG MODE_ARG=prod',
        'ENV MODE=$MODE_ARG',
        'WORKDIR /opt/app',
        'COPY app/ ./',
        'COPY README /opt/docs/',
        'COPY --chown=user app/lib/data.txt /home/user/data.txt',
        'RUN ./main.sh > /opt/ran.txt',
        'CMD ["sleep", "1000"]',
      ].join('\n');
      const start = await api(s, 'POST', `/v2/templates/${reg.body.templateID}/builds/${reg.body.buildID}`, {
        dockerfile,
        filesHash: hash,
      });
      assert.equal(start.status, 202, JSON.stringify(start.body));
      const st = await waitBuild(reg.body.templateID, reg.body.buildID);
      assert.equal(st.status, 'ready', st.all.map((l: any) => l.message).join('\n'));
      const t = await api(s, 'GET', `/templates/${name}`);
      assert.equal(t.body.startCmd, 'sleep 1000');
      const sbx = await sandbox(name);
      try {
        const r = await sbx.commands.run(
          'cat /opt/ran.txt lib/data.txt /opt/docs/README; pwd; echo $MODE; stat -c %U /home/user/data.txt; test -x ' +
            'main.sh && echo exec',
        );
        assert.equal(r.stdout, 'main prod\ndata\nreadme\n/opt/app\nprod\nuser\nexec\n');
        // CMD became the start command: it runs in the sandbox.
        const ps = await sbx.commands.run('ps -eo args');
        assert.match(ps.stdout, /sleep 1000/);
      } finally {
        await sbx.kill();
      }
      // A Dockerfile error names its line; nothing starts.
      const reg2 = await api(s, 'POST', '/v3/templates', { name: uniq('badfile') });
      const bad = await api(s, 'POST', `/v2/templates/${reg2.body.templateID}/builds/${reg2.body.buildID}`, {
        dockerfile: 'FROM default\nRUN true\nVOLUME /data\n',
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /line 3/);
      await api(s, 'DELETE', `/templates/${reg2.body.templateID}`);
      await api(s, 'DELETE', `/templates/${name}`);
      rmSync(tar, { force: true });
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  it('commits a running sandbox as a template while it keeps running', async () => {
    const src = await sandbox('default');
    try {
      await src.commands.run('echo committed > /home/user/state.txt && sudo sh -c "echo sys > /opt/sys.txt"');
      await src.commands.run('sleep 1000', { background: true });
      const name = uniq('committed');
      const c = await api(s, 'POST', `/sandboxes/${src.sandboxId}/commit`, { name, memoryMB: 1024 });
      assert.equal(c.status, 202, JSON.stringify(c.body));
      const st = await waitBuild(c.body.templateID, c.body.buildID);
      assert.equal(st.status, 'ready', st.all.map((l: any) => l.message).join('\n'));
      // The source kept running (its process too) and can still write.
      assert.match((await src.commands.run('ps -eo args')).stdout, /sleep 1000/);
      await src.commands.run('echo later > /home/user/later.txt');
      const copy = await sandbox(name);
      try {
        const r = await copy.commands.run(
          'cat /home/user/state.txt /opt/sys.txt; test -e /home/user/later.txt && echo later || echo no-later; id -un',
        );
        assert.equal(r.stdout, 'committed\nsys\nno-later\nuser\n');
        assert.equal((await api(s, 'GET', `/sandboxes/${copy.sandboxId}`)).body.memoryMB, 1024);
      } finally {
        await copy.kill();
      }
      const detail = await api(s, 'GET', `/templates/${name}`);
      assert.equal(detail.body.builds[0].source, `sandbox ${src.sandboxId}`);
      await api(s, 'DELETE', `/templates/${name}`);
    } finally {
      await src.kill();
    }
    const gone = await api(s, 'POST', `/sandboxes/${src.sandboxId}/commit`, { name: uniq('x') });
    assert.equal(gone.status, 404);
  });

  it('builds fromImage debian:bookworm (mmdebstrap) and lists it among the base images', async () => {
    const bases = await api(s, 'GET', '/templates/base-images');
    assert.equal(bases.status, 200);
    assert.ok(bases.body.some((b: any) => b.dockerImage === 'debian:bookworm' && b.source === 'mmdebstrap'));
    const name = uniq('plain');
    const b = await build(name, {
      fromImage: 'debian:bookworm',
      steps: [{ name: 'hello', command: 'cat /etc/debian_version > /root/v && id -un > /root/who' }],
    });
    assert.equal(b.start.status, 202, JSON.stringify(b.start.body));
    const st = await waitBuild(b.templateID, b.buildID, 600_000);
    assert.equal(st.status, 'ready', st.all.map((l: any) => l.message).join('\n'));
    const sbx = await sandbox(name);
    try {
      const r = await sbx.commands.run(
        'cat /root/v /root/who; id -un; pwd; test -e /usr/bin/python3 && echo python || echo no-python',
      );
      assert.match(r.stdout, /^12\.\d+\nroot\nroot\n\/\nno-python\n$/);
    } finally {
      await sbx.kill();
    }
    assert.ok(
      (await api(s, 'GET', '/templates/base-images')).body.some(
        (x: any) => x.dockerImage === 'debian:bookworm' && x.status === 'ready',
      ),
    );
    await api(s, 'DELETE', `/templates/${name}`);
  });
});
