/**
 * Templates from a registry image, end to end: a real registry on loopback (Debian's docker-registry, behind htpasswd
 * Basic auth), seeded by the test with a small two-layer busybox image (umoci + skopeo; the second layer deletes a file
 * of the first), a server configured with that registry and its credentials, `fromImage` and a Dockerfile `FROM` of it,
 * and sandboxes that run on the result with the image's env, user and working directory. Also: the registry's images
 * in the base-image list, an unknown tag NotFound, and wrong credentials as a failed build that says why.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { Sandbox } from 'tensor-box';
import { api, startTestServer, type TestServer } from './helpers/harness.js';
import {
  requireTools,
  skopeoPush,
  startRegistry,
  tmpDir,
  umociImage,
  type TestRegistry,
} from '../packages/runtime/src/image/registry-fixture.js';

const USER = 'builder';
const PASSWORD = 'pw-for-the-test';
let reg: TestRegistry;
let s: TestServer;
let work: string;

const APPLETS = [
  'sh',
  'cat',
  'echo',
  'id',
  'pwd',
  'mkdir',
  'tar',
  'chown',
  'chmod',
  'ls',
  'env',
  'sleep',
  'rm',
  'test',
  'printenv',
];

/** A runnable root filesystem: busybox, a `bash` that is its sh (the SDKs run commands with bash -l -c), root. */
function busyboxRoot(root: string): void {
  for (const d of ['bin', 'etc', 'root', 'tmp', 'srv']) mkdirSync(path.join(root, d), { recursive: true });
  copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', path.join(root, 'bin', a));
  writeFileSync(path.join(root, 'bin/bash'), '#!/bin/sh\nexec /bin/sh "$@"\n', { mode: 0o755 });
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\n');
  writeFileSync(path.join(root, 'etc/motd'), 'from the first layer\n');
  chmodSync(path.join(root, 'tmp'), 0o1777);
}

before(async () => {
  requireTools('docker-registry', 'umoci', 'skopeo', 'htpasswd', 'busybox');
  reg = await startRegistry({ kind: 'htpasswd', user: USER, password: PASSWORD });
  work = tmpDir('tpl');
  const layout = path.join(work, 'oci');
  umociImage({
    layout,
    tag: 'v1',
    steps: [
      busyboxRoot,
      (root) => (
        rmSync(path.join(root, 'etc/motd')), writeFileSync(path.join(root, 'srv/from-image.txt'), 'second layer\n')
      ),
    ],
    config: ['--config.env', 'PATH=/bin', '--config.env', 'GREETING=from-image', '--config.workingdir', '/srv'],
  });
  await skopeoPush(`${layout}:v1`, `${reg.host}/org/tiny:v1`, ['--dest-creds', `${USER}:${PASSWORD}`]);
  s = await startTestServer({ registry: { url: reg.url, username: USER, password: PASSWORD } });
});
after(async () => {
  await s?.close();
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function build(name: string, body: Record<string, unknown>) {
  const r = await api(s, 'POST', '/v3/templates', { name, cpuCount: 1, memoryMB: 256, diskSizeMB: 512 });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const start = await api(s, 'POST', `/v2/templates/${r.body.templateID}/builds/${r.body.buildID}`, body);
  return { id: r.body.templateID as string, build: r.body.buildID as string, start };
}

async function wait(id: string, buildId: string) {
  for (let i = 0; i < 1200; i++) {
    const st = await api(s, 'GET', `/templates/${id}/builds/${buildId}/status`);
    if (st.body.status === 'ready' || st.body.status === 'error') return st.body;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('build did not finish');
}

describe('templates from a registry image', () => {
  it('lists the registry images among the base images', async () => {
    const bases = await api(s, 'GET', '/templates/base-images');
    assert.ok(
      bases.body.some((b: any) => b.dockerImage === `${reg.host}/org/tiny:v1` && b.source === 'registry'),
      JSON.stringify(bases.body),
    );
  });

  it(
    'builds fromImage (layers flattened, whiteouts applied); ' + 'sandboxes run with the image env, user and workdir',
    async () => {
      const b = await build('from-registry', {
        fromImage: 'org/tiny:v1',
        steps: [{ name: 'mark', command: 'echo "built $GREETING" > /srv/built.txt' }],
      });
      assert.equal(b.start.status, 202, JSON.stringify(b.start.body));
      const st = await wait(b.id, b.build);
      assert.equal(st.status, 'ready', JSON.stringify(st));
      const sbx = await Sandbox.create('from-registry', { ...s.conn, timeoutMs: 60_000 });
      try {
        const r = await sbx.commands.run(
          'cat /srv/from-image.txt /srv/built.txt; test -e /etc/motd && echo motd || echo no-motd; ' +
            'id -un; pwd; echo $GREETING',
        );
        assert.equal(r.stdout, 'second layer\nbuilt from-image\nno-motd\nroot\n/srv\nfrom-image\n');
        await sbx.files.write('/srv/uploaded.txt', 'via envd');
        assert.equal(await sbx.files.read('/srv/uploaded.txt'), 'via envd');
      } finally {
        await sbx.kill();
      }
      // The same image by its full name through a Dockerfile's FROM.
      const d = await build('from-registry-dockerfile', {
        dockerfile: `FROM ${reg.host}/org/tiny:v1\nENV MORE=yes\nRUN echo "$MORE" > /srv/more.txt\n`,
      });
      assert.equal(d.start.status, 202, JSON.stringify(d.start.body));
      assert.equal((await wait(d.id, d.build)).status, 'ready');
      const sbx2 = await Sandbox.create('from-registry-dockerfile', { ...s.conn, timeoutMs: 60_000 });
      try {
        assert.equal((await sbx2.commands.run('cat /srv/more.txt /srv/from-image.txt')).stdout, 'yes\nsecond layer\n');
      } finally {
        await sbx2.kill();
      }
    },
  );

  it('an unknown tag or repository is NotFound before the build starts; another registry is refused', async () => {
    for (const ref of ['org/tiny:v9', 'org/nothing:v1']) {
      const b = await build(`missing-${ref.replace(/[^a-z0-9]/g, '-')}`, { fromImage: ref });
      assert.equal(b.start.status, 404, JSON.stringify(b.start.body));
      assert.match(b.start.body.message, /not found/i);
      assert.equal(
        (await api(s, 'GET', `/templates/${b.id}/builds/${b.build}/status`)).body.status,
        'waiting',
        'nothing started',
      );
      await api(s, 'DELETE', `/templates/${b.id}`);
    }
    const other = await build('other-registry', { fromImage: 'registry.example.com/org/tiny:v1' });
    assert.equal(other.start.status, 404);
    assert.match(other.start.body.message, /not the configured one/);
  });

  it('wrong registry credentials fail the build with the reason', async () => {
    const bad = await startTestServer({ registry: { url: reg.url, username: USER, password: 'wrong' } });
    try {
      const r = await api(bad, 'POST', '/v3/templates', { name: 'bad-creds' });
      await api(bad, 'POST', `/v2/templates/${r.body.templateID}/builds/${r.body.buildID}`, {
        fromImage: 'org/tiny:v1',
      });
      let st: any;
      for (let i = 0; i < 200; i++) {
        st = (await api(bad, 'GET', `/templates/${r.body.templateID}/builds/${r.body.buildID}/status`)).body;
        if (st.status === 'error' || st.status === 'ready') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(st.status, 'error');
      assert.equal(st.reason.step, 'FROM');
      assert.match(st.reason.message, /credential|unauthori|denied|refused/i);
    } finally {
      await bad.close();
    }
  });
});
