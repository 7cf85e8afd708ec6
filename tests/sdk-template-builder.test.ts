/**
 * The TypeScript SDK's new surface against a real server: the fluent `Template()` builder with real package installs
 * (apt from Debian's mirror, pip from PyPI — the sandbox is given this host's CA bundle with `copy`, since this
 * machine reaches the registries through a TLS-intercepting proxy), a failing build, `pty.connect` re-attaching to a
 * running terminal (and what it refuses), synchronous signed URLs (and a forged one), and list pagination.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AuthenticationError,
  BuildError,
  NotFoundError,
  Sandbox,
  Template,
  waitForURL,
  type BuildLogEntry,
} from 'tensor-box';
import { httpGet, startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
const killLater: Sandbox[] = [];
before(async () => {
  s = await startTestServer();
});
after(async () => {
  for (const x of killLater) await x.kill().catch(() => {});
  await s?.close();
});

const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';

describe('Template() builder (live)', () => {
  it(
    'builds copy + aptInstall + pipInstall + env/workdir/user + ' +
      'a start command captured ready, then starts sandboxes from it',
    async () => {
      const ctx = mkdtempSync(path.join(os.tmpdir(), 'tb-fluent-'));
      mkdirSync(path.join(ctx, 'site', 'sub'), { recursive: true });
      writeFileSync(path.join(ctx, 'site', 'index.html'), 'hello from the builder\n');
      writeFileSync(path.join(ctx, 'site', 'sub', 'run.sh'), '#!/bin/sh\necho ran\n');
      symlinkSync('index.html', path.join(ctx, 'site', 'home.html'));
      if (existsSync(HOST_CA)) cpSync(HOST_CA, path.join(ctx, 'host-ca.crt'));
      else writeFileSync(path.join(ctx, 'host-ca.crt'), '');
      const logs: BuildLogEntry[] = [];
      const t = Template({ fileContextPath: ctx })
        .fromTemplate('default')
        .copy('host-ca.crt', '/etc/ssl/certs/host-ca.crt')
        .setEnvs({ PIP_CERT: '/etc/ssl/certs/host-ca.crt', GREETING: 'hi there' })
        .aptInstall(['jq'])
        .pipInstall(['six==1.16.0'])
        .copy('site', '/srv/site', { user: 'user', mode: 0o755 })
        .setWorkdir('/srv/site')
        .setUser('user')
        .runCmd('echo "$GREETING" > /tmp/greeting.txt')
        .setStartCmd('python3 -m http.server 8000', waitForURL('http://localhost:8000/index.html'));
      const info = await Template.build(t, {
        ...s.conn,
        alias: 'fluent-live',
        cpuCount: 1,
        memoryMB: 1024,
        onBuildLogs: (e) => logs.push(e),
      });
      assert.equal(info.status, 'ready');
      assert.ok(
        logs.some((l) => /COPY/.test(l.message)) && logs.some((l) => /apt-get/.test(l.message)),
        'the log names the steps',
      );

      const sbx = await Sandbox.create('fluent-live', { ...s.conn, timeoutMs: 300_000 });
      killLater.push(sbx);
      const r = await sbx.commands.run(
        'jq --version; python3 -c "import six; print(six.__version__)"; whoami; cat /tmp/greeting.txt; readlink ' +
          'home.html; stat -c "%U %a" sub/run.sh; ./sub/run.sh',
        { cwd: '/srv/site' },
      );
      assert.match(r.stdout, /^jq-1\.\d/m);
      assert.match(r.stdout, /^1\.16\.0$/m, 'six came from PyPI');
      assert.match(r.stdout, /^user\nhi there\nindex\.html\nuser 755\nran$/m);
      // Captured ready: the server answers at once, from the workdir.
      const got = await httpGet(`${s.url}/index.html`, sbx.getHost(8000));
      assert.deepEqual(got, { status: 200, body: 'hello from the builder\n' });
    },
  );

  it('fromDockerfile (a path) uploads the file context its COPY reads, and later steps follow', async () => {
    const ctx = mkdtempSync(path.join(os.tmpdir(), 'tb-dockerfile-'));
    writeFileSync(path.join(ctx, 'app.txt'), 'copied by the Dockerfile\n');
    writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM default\nCOPY app.txt /opt/app.txt\nENV FROM_DOCKERFILE=yes\n');
    const t = Template({ fileContextPath: ctx })
      .fromDockerfile(path.join(ctx, 'Dockerfile'))
      .runCmd('echo "$FROM_DOCKERFILE" > /opt/env.txt');
    assert.equal((await Template.build(t, { ...s.conn, alias: 'fluent-dockerfile' })).status, 'ready');
    const sbx = await Sandbox.create('fluent-dockerfile', { ...s.conn, timeoutMs: 300_000 });
    killLater.push(sbx);
    assert.equal((await sbx.commands.run('cat /opt/app.txt /opt/env.txt')).stdout, 'copied by the Dockerfile\nyes\n');
  });

  it('a failing step is a BuildError naming the step; a shell-hostile package name stays one argument', async () => {
    const t = Template().fromTemplate('default').runCmd('echo fine').aptInstall(["jq'; touch /tmp/pwned; echo '"]);
    const err = await Template.build(t, { ...s.conn, alias: 'fluent-fail' }).catch((e) => e);
    assert.ok(err instanceof BuildError, String(err));
    assert.match(err.step ?? '', /apt-get/);
    // apt-get saw the whole hostile string as one package name (it failed on it, nothing else ran): see
    // template-builder.test.ts for the quoting itself.
    assert.ok(
      err.logEntries?.some((l: { message: string }) => /Unable to locate package|E: /.test(l.message)),
      JSON.stringify(err.logEntries),
    );
    assert.equal(await Template.exists('fluent-fail', s.conn), true, 'a failed build stays listed, as on E2B');
  });
});

describe('pty.connect (live)', () => {
  it(
    're-attaches to a running terminal after disconnect; the ' +
      'shell kept its state; gone and unknown pids are NotFound',
    async () => {
      const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 });
      killLater.push(sbx);
      let first = '';
      const pty = await sbx.pty.create({
        cols: 80,
        rows: 24,
        onData: (d) => void (first += new TextDecoder().decode(d)),
      });
      await pty.sendInput('cd /tmp && X=$((6*7))\n');
      pty.disconnect();
      assert.equal(await pty.exited, -1, 'disconnect is not an exit');
      let again = '';
      const back = await sbx.pty.connect(pty.pid, { onData: (d) => void (again += new TextDecoder().decode(d)) });
      assert.equal(back.pid, pty.pid);
      await back.sendInput('echo "at $PWD x=$X"\n');
      const deadline = Date.now() + 10_000;
      while (!again.includes('at /tmp x=42') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.match(again, /at \/tmp x=42/);
      await back.resize({ cols: 120, rows: 40 });
      assert.equal(await back.kill(), true);
      await assert.rejects(sbx.pty.connect(pty.pid, { onData: () => {} }), NotFoundError);
      await assert.rejects(sbx.pty.connect(2 ** 31 - 1, { onData: () => {} }), NotFoundError);
      // Another sandbox's token does not reach this sandbox's terminals.
      const other = await Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 });
      killLater.push(other);
      const term = await sbx.pty.create({ cols: 80, rows: 24, onData: () => {} });
      const forged = new (Sandbox as any)(
        { sandboxID: sbx.sandboxId, templateID: 'default', envdAccessToken: (other as any).accessToken },
        (sbx as any).conn,
      );
      await assert.rejects(forged.pty.connect(term.pid, { onData: () => {} }), AuthenticationError);
      await term.kill();
    },
  );
});

describe('signed URLs and pages (live)', () => {
  it('downloadUrl/uploadUrl are plain strings; a forged signature is refused', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 300_000 });
    killLater.push(sbx);
    const up = sbx.uploadUrl('/home/user/u.txt', { useSignatureExpiration: 60 });
    assert.equal(typeof up, 'string');
    assert.equal((await fetch(up, { method: 'POST', body: 'via url' })).status, 200);
    const down = sbx.downloadUrl('/home/user/u.txt');
    assert.equal(await (await fetch(down)).text(), 'via url');
    const forged = new URL(down);
    forged.searchParams.set('path', '/etc/shadow');
    assert.ok([401, 403].includes((await fetch(forged)).status), 'a signature only covers its own path');
  });

  it('Sandbox.list pages with limit and nextToken, filters included', async () => {
    const tag = { page: `p-${Date.now()}` };
    const made = await Promise.all(
      [0, 1, 2].map(() => Sandbox.create('default', { ...s.conn, timeoutMs: 300_000, metadata: tag })),
    );
    killLater.push(...made);
    const p = Sandbox.list({ ...s.conn, query: { metadata: tag, template: 'default' }, limit: 2, order: 'asc' });
    const a = await p.nextItems();
    assert.equal(a.length, 2);
    assert.ok(p.hasNext && p.nextToken);
    const b = await Sandbox.list({
      ...s.conn,
      query: { metadata: tag },
      limit: 2,
      order: 'asc',
      nextToken: p.nextToken,
    }).nextItems();
    assert.deepEqual([...a, ...b].map((x) => x.sandboxId).sort(), made.map((x) => x.sandboxId).sort());
  });
});
