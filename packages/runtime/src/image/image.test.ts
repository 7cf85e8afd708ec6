/**
 * Pulling images from a real registry (Debian's docker-registry on loopback) into flattened root filesystems: images
 * built with umoci and pushed with skopeo (gzip and zstd), hand-made layers for opaque whiteouts and hostile paths, a
 * manifest list and an OCI index PUT over HTTP, htpasswd Basic auth and token auth, the cache, and the error kinds.
 * Needs root (ownership, device nodes) and the tools packages/runtime/setup.sh installs; a missing tool fails the run.
 * Over 400 lines on purpose: every case shares one registry started in `before` (starting it costs seconds).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  chownSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DriverError } from '../driver.js';
import { listRegistryImages, parseImageRef, pullImage } from './index.js';
import { applyLayer } from './unpack.js';
import {
  freePort,
  makeTar,
  pushManifest,
  pushRawImage,
  registryBlobFile,
  requireTools,
  skopeoPush,
  startRegistry,
  startTokenIssuer,
  tmpDir,
  umociImage,
  writeTree,
  type TestRegistry,
} from './registry-fixture.js';

const isKind = (kind: DriverError['kind'], re?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof DriverError, `expected a DriverError, got ${String(e)}`);
  assert.equal(e.kind, kind, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

const blobGets = (r: TestRegistry) => r.log.filter((l) => /"GET \/v2\/[^ ]+\/blobs\/sha256:/.test(l)).length;

describe('parseImageRef', () => {
  test('names, tags, digests and registries', () => {
    assert.deepEqual(parseImageRef('alpine'), { repository: 'alpine', tag: 'latest' });
    assert.deepEqual(parseImageRef('org/app:1.2'), { repository: 'org/app', tag: '1.2' });
    const d = `sha256:${'a'.repeat(64)}`;
    assert.deepEqual(parseImageRef(`127.0.0.1:5000/org/app@${d}`), {
      registry: '127.0.0.1:5000',
      repository: 'org/app',
      digest: d,
    });
    assert.deepEqual(parseImageRef(`reg.example.com/a/b/c:v1@${d}`), {
      registry: 'reg.example.com',
      repository: 'a/b/c',
      tag: 'v1',
      digest: d,
    });
    assert.deepEqual(parseImageRef('localhost/app'), { registry: 'localhost', repository: 'app', tag: 'latest' });
  });
  test('malformed references are invalid_argument', () => {
    for (const bad of [
      '',
      'Org/App',
      'app:',
      'app@sha256:abc',
      'app@md5:' + 'a'.repeat(32),
      'a//b',
      'app:-x',
      '/app',
      'reg.io/',
    ]) {
      assert.throws(() => parseImageRef(bad), isKind('invalid_argument'), bad);
    }
  });
});

describe('pullImage from a registry', () => {
  let reg: TestRegistry;
  const work = tmpDir('work');
  const cacheDir = path.join(work, 'cache');
  let n = 0;
  const dest = () => path.join(work, `dest-${++n}`);
  const registry = () => ({ url: reg.url });

  before(async () => {
    requireTools('docker-registry', 'skopeo', 'umoci', 'zstd', 'mknod', 'setfattr', 'openssl', 'htpasswd');
    reg = await startRegistry();
  });
  after(async () => {
    await reg?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('a multi-layer image is flattened with whiteouts and an opaque directory applied', async () => {
    const layout = path.join(work, 'multi');
    umociImage({
      layout,
      tag: 'v1',
      steps: [
        (root) => {
          writeTree(root, {
            'etc/hello': 'hello\n',
            'etc/gone': 'bye\n',
            'data/old1': '1',
            'data/sub/old2': '2',
            'opt/keep/k': 'k',
            'bin/tool': '#!/bin/sh\n',
          });
          chmodSync(path.join(root, 'bin/tool'), 0o4755);
          chownSync(path.join(root, 'opt/keep/k'), 1234, 5678);
          symlinkSync('../etc/hello', path.join(root, 'opt/hello-link'));
          linkSync(path.join(root, 'etc/hello'), path.join(root, 'etc/hello-hard'));
          execFileSync('mknod', [path.join(root, 'etc/null'), 'c', '1', '3']);
          execFileSync('mknod', [path.join(root, 'etc/fifo'), 'p']);
          utimesSync(path.join(root, 'etc/hello'), 1_600_000_000, 1_600_000_000);
        },
        (root) => {
          rmSync(path.join(root, 'etc/gone'));
          writeTree(root, { 'etc/added': 'second layer\n' });
        },
      ],
      // umoci writes explicit whiteouts only; an opaque directory comes from a hand-made layer.
      extraLayers: [
        makeTar([
          { name: 'data/', type: 'dir', mode: 0o750 },
          { name: 'data/new', data: 'new\n' },
          { name: 'data/.wh..wh..opq' }, // after a sibling on purpose: it still concerns only the lower layers
          { name: 'opt/xattr', data: 'x', pax: { 'SCHILY.xattr.user.tb': 'yes' } },
          // Untrusted device nodes: the host's disk and memory must not appear; an overlay whiteout (0:0) must.
          { name: 'dev/', type: 'dir' },
          { name: 'dev/vda', type: 'block', dev: [254, 0], mode: 0o666 },
          { name: 'dev/mem', type: 'char', dev: [1, 1], mode: 0o666 },
          { name: 'opt/gone-below', type: 'char', dev: [0, 0], mode: 0o644, uid: 1000 },
        ]),
      ],
      config: [
        '--config.env',
        'FOO=bar',
        '--config.cmd',
        '/bin/sh',
        '--config.workingdir',
        '/opt',
        '--config.user',
        '1000:1000',
        '--config.entrypoint',
        '/bin/tool',
      ],
    });
    await skopeoPush(`${layout}:v1`, `${reg.host}/org/multi:v1`);

    const messages: string[] = [];
    const fractions: number[] = [];
    const out = dest();
    const t0 = Date.now();
    const config = await pullImage({
      ref: 'org/multi:v1',
      registry: registry(),
      dest: out,
      cacheDir,
      onProgress: (f, m) => (fractions.push(f), messages.push(m)),
    });
    console.log(`# multi-layer pull: ${Date.now() - t0} ms`);

    assert.deepEqual(
      config.env.filter((e) => e === 'FOO=bar'),
      ['FOO=bar'],
    );
    assert.deepEqual(config.cmd, ['/bin/sh']);
    assert.deepEqual(config.entrypoint, ['/bin/tool']);
    assert.equal(config.workingDir, '/opt');
    assert.equal(config.user, '1000:1000');
    assert.match(config.digest, /^sha256:[0-9a-f]{64}$/);

    assert.equal(readFileSync(path.join(out, 'etc/hello'), 'utf8'), 'hello\n');
    assert.equal(readFileSync(path.join(out, 'etc/added'), 'utf8'), 'second layer\n');
    assert.ok(!existsSync(path.join(out, 'etc/gone')), 'whiteout deletes the file');
    assert.deepEqual(readdirSync(path.join(out, 'data')), ['new'], 'opaque dir keeps only this layer');
    assert.equal(statSync(path.join(out, 'data')).mode & 0o7777, 0o750);
    assert.equal(readFileSync(path.join(out, 'opt/keep/k'), 'utf8'), 'k');
    const k = statSync(path.join(out, 'opt/keep/k'));
    assert.deepEqual([k.uid, k.gid], [1234, 5678]);
    assert.equal(statSync(path.join(out, 'bin/tool')).mode & 0o7777, 0o4755, 'setuid kept');
    assert.equal(readlinkSync(path.join(out, 'opt/hello-link')), '../etc/hello');
    assert.equal(
      statSync(path.join(out, 'etc/hello-hard')).ino,
      statSync(path.join(out, 'etc/hello')).ino,
      'hard link kept',
    );
    // No device node from a layer (even /dev/null's numbers), but the overlay whiteout format stays.
    for (const p of ['etc/null', 'dev/vda', 'dev/mem'])
      assert.ok(!existsSync(path.join(out, p)), `${p} was not created`);
    const wh = lstatSync(path.join(out, 'opt/gone-below'));
    assert.ok(wh.isCharacterDevice());
    assert.deepEqual([wh.rdev, wh.mode & 0o7777, wh.uid], [0, 0, 0], 'a whiteout as overlayfs makes them');
    assert.ok(lstatSync(path.join(out, 'etc/fifo')).isFIFO());
    assert.equal(statSync(path.join(out, 'etc/hello')).mtimeMs, 1_600_000_000_000, 'mtime kept');
    assert.equal(
      execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.tb', path.join(out, 'opt/xattr')], {
        encoding: 'utf8',
      }),
      'yes',
    );
    const whiteouts = execFileSync('find', [out, '-name', '.wh.*'], { encoding: 'utf8' });
    assert.equal(whiteouts, '', 'no whiteout file is left in the rootfs');

    assert.ok(
      messages.some((m) => /layer 1\/3 .*downloaded/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /layer 3\/3 .*unpacking/.test(m)),
      messages.join('\n'),
    );
    assert.deepEqual(
      fractions,
      [...fractions].sort((a, b) => a - b),
      'progress only moves forward',
    );
    assert.equal(fractions.at(-1), 1);

    // The cache: a second pull downloads no blob, and dest shares inodes with the cached rootfs.
    const before = blobGets(reg);
    assert.ok(before >= 4, 'the first pull downloaded config and layers');
    const again = dest();
    const t1 = Date.now();
    const config2 = await pullImage({ ref: 'org/multi:v1', registry: registry(), dest: again, cacheDir });
    console.log(`# cached pull: ${Date.now() - t1} ms`);
    assert.deepEqual(config2, config);
    assert.equal(blobGets(reg), before, 'no blob downloaded again');
    const cached = path.join(cacheDir, 'images', config.digest.slice(7), 'rootfs');
    assert.equal(statSync(path.join(again, 'etc/hello')).ino, statSync(path.join(cached, 'etc/hello')).ino);
    // A digest reference whose image is cached needs no registry at all.
    const requests = reg.log.length;
    await pullImage({ ref: `org/multi@${config.digest}`, registry: registry(), dest: dest(), cacheDir });
    assert.equal(reg.log.length, requests, 'no request for a cached digest');
    assert.ok(
      readdirSync(path.join(cacheDir, 'images')).every((e) => !e.includes('.tmp-')),
      'no staging dir left',
    );
    await assert.rejects(
      pullImage({ ref: 'org/multi:v1', registry: registry(), dest: again, cacheDir }),
      isKind('failed_precondition', /already exists/),
    );
  });

  test('zstd layers', async () => {
    const layout = path.join(work, 'zstd');
    const nonce = `${Date.now()}-${Math.random()}`; // new content, so skopeo compresses instead of reusing a gzip blob
    umociImage({
      layout,
      tag: 'z',
      steps: [
        (root) => writeTree(root, { 'z/one': `one ${nonce}\n`, 'z/two': 'two\n' }),
        (root) => (rmSync(path.join(root, 'z/two')), writeTree(root, { 'z/three': `three ${nonce}\n` })),
      ],
    });
    await skopeoPush(`${layout}:z`, `${reg.host}/org/zstd:z`, ['--dest-compress-format', 'zstd']);
    const manifest = (await (
      await fetch(`${reg.url}/v2/org/zstd/manifests/z`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      })
    ).json()) as {
      layers: Array<{ mediaType: string }>;
    };
    assert.ok(
      manifest.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+zstd'),
      JSON.stringify(manifest.layers),
    );
    const out = dest();
    await pullImage({ ref: `${reg.host}/org/zstd:z`, registry: registry(), dest: out, cacheDir });
    assert.deepEqual(readdirSync(path.join(out, 'z')).sort(), ['one', 'three']);
    assert.equal(readFileSync(path.join(out, 'z/three'), 'utf8'), `three ${nonce}\n`);
  });

  test('an OCI index and a Docker manifest list: linux/amd64 is picked; none is a clear error', async () => {
    // amd64 as an uncompressed OCI layer, arm64 gzip; the Docker list points at schema2 manifests.
    const amd = await pushRawImage({
      url: reg.url,
      repo: 'org/multiarch',
      tag: 'amd64',
      tar: makeTar([{ name: 'arch', data: 'amd64\n' }]),
    });
    const arm = await pushRawImage({
      url: reg.url,
      repo: 'org/multiarch',
      tag: 'arm64',
      tar: makeTar([{ name: 'arch', data: 'arm64\n' }]),
      gzip: true,
      architecture: 'arm64',
    });
    const entry = (m: { digest: string; size: number; mediaType: string }, architecture: string, variant?: string) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
    });
    const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
    await pushManifest(reg.url, 'org/multiarch', 'latest', OCI_INDEX, {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [entry(arm, 'arm64', 'v8'), entry(amd, 'amd64')],
    });
    const out = dest();
    const config = await pullImage({ ref: 'org/multiarch', registry: registry(), dest: out, cacheDir });
    assert.equal(readFileSync(path.join(out, 'arch'), 'utf8'), 'amd64\n');
    assert.equal(config.digest, amd.digest, 'the digest is the amd64 manifest');
    assert.deepEqual(config.env, ['ARCH=amd64']);

    const damd = await pushRawImage({
      url: reg.url,
      repo: 'org/dockerlist',
      tag: 'amd64',
      tar: makeTar([{ name: 'arch', data: 'docker-amd64\n' }]),
      gzip: true,
      docker: true,
    });
    const darm = await pushRawImage({
      url: reg.url,
      repo: 'org/dockerlist',
      tag: 'arm',
      tar: makeTar([{ name: 'arch', data: 'docker-arm\n' }]),
      gzip: true,
      docker: true,
      architecture: 'arm',
    });
    const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
    await pushManifest(reg.url, 'org/dockerlist', 'v1', LIST, {
      schemaVersion: 2,
      mediaType: LIST,
      manifests: [entry(darm, 'arm', 'v7'), entry(damd, 'amd64')],
    });
    const out2 = dest();
    await pullImage({ ref: 'org/dockerlist:v1', registry: registry(), dest: out2, cacheDir });
    assert.equal(readFileSync(path.join(out2, 'arch'), 'utf8'), 'docker-amd64\n');

    const ds390x = await pushRawImage({
      url: reg.url,
      repo: 'org/dockerlist',
      tag: 's390x',
      tar: makeTar([{ name: 'arch', data: 's390x\n' }]),
      gzip: true,
      docker: true,
      architecture: 's390x',
    });
    await pushManifest(reg.url, 'org/dockerlist', 'noamd64', LIST, {
      schemaVersion: 2,
      mediaType: LIST,
      manifests: [entry(darm, 'arm', 'v7'), entry(ds390x, 's390x')],
    });
    await assert.rejects(
      pullImage({ ref: 'org/dockerlist:noamd64', registry: registry(), dest: dest(), cacheDir }),
      isKind('failed_precondition', /no linux\/amd64 image; it has: linux\/arm\/v7, linux\/s390x/),
    );
    // A single-platform manifest of another architecture says so too.
    await assert.rejects(
      pullImage({ ref: 'org/multiarch:arm64', registry: registry(), dest: dest(), cacheDir }),
      isKind('failed_precondition', /linux\/arm64 image, not linux\/amd64/),
    );
  });

  test('listRegistryImages lists repositories and tags', async () => {
    const list = await listRegistryImages(registry());
    const byName = new Map(list.map((r) => [r.repository, r.tags]));
    assert.deepEqual(byName.get('org/multiarch'), ['amd64', 'arm64', 'latest']);
    assert.deepEqual(byName.get('org/multi'), ['v1']);
    assert.deepEqual(
      list.map((r) => r.repository),
      [...list.map((r) => r.repository)].sort(),
    );
  });

  test('unknown tag, repository or digest is not_found; a dead registry or another registry is refused', async () => {
    await assert.rejects(
      pullImage({ ref: 'org/multi:nope', registry: registry(), dest: dest(), cacheDir }),
      isKind('not_found', /org\/multi:nope.*MANIFEST_UNKNOWN/),
    );
    await assert.rejects(
      pullImage({ ref: 'org/nothing', registry: registry(), dest: dest(), cacheDir }),
      isKind('not_found'),
    );
    await assert.rejects(
      pullImage({ ref: `org/multi@sha256:${'0'.repeat(64)}`, registry: registry(), dest: dest(), cacheDir }),
      isKind('not_found'),
    );
    const closed = await freePort(); // nothing listens there
    await assert.rejects(
      pullImage({ ref: 'org/multi:v1', registry: { url: `http://127.0.0.1:${closed}` }, dest: dest(), cacheDir }),
      isKind('failed_precondition', new RegExp(`registry 127\\.0\\.0\\.1:${closed} is unreachable: ECONNREFUSED`)),
    );
    await assert.rejects(
      pullImage({ ref: 'other.example.com/org/multi:v1', registry: registry(), dest: dest(), cacheDir }),
      isKind('invalid_argument', /configured registry/),
    );
    await assert.rejects(
      pullImage({ ref: 'Bad:Ref', registry: registry(), dest: dest(), cacheDir }),
      isKind('invalid_argument'),
    );
  });

  test('a blob whose bytes do not match its digest is refused and not cached', async () => {
    const img = await pushRawImage({
      url: reg.url,
      repo: 'org/corrupt',
      tag: 'v1',
      tar: makeTar([{ name: 'f', data: 'good data\n' }]),
      gzip: true,
    });
    const file = registryBlobFile(reg.storageDir, img.layerDigest);
    const bytes = readFileSync(file);
    bytes[bytes.length - 5]! ^= 0xff; // same size, different content, served as is by the registry
    writeFileSync(file, bytes);
    const fresh = path.join(work, 'cache-corrupt');
    await assert.rejects(
      pullImage({ ref: 'org/corrupt:v1', registry: registry(), dest: dest(), cacheDir: fresh }),
      isKind('failed_precondition', /digest sha256:.*corrupt or tampered/),
    );
    assert.deepEqual(
      readdirSync(path.join(fresh, 'blobs/sha256')).filter((f) => f.startsWith(img.layerDigest.slice(7))),
      [],
      'nothing cached',
    );
  });
});

describe('registry auth', () => {
  const work = tmpDir('auth');
  after(() => rmSync(work, { recursive: true, force: true }));

  const seed = async (host: string, creds: string) => {
    const layout = path.join(work, `seed-${host.replace(/\W/g, '')}`);
    umociImage({ layout, tag: 'v1', steps: [(root) => writeTree(root, { 'secret/file': 'authorized\n' })] });
    await skopeoPush(`${layout}:v1`, `${host}/org/private:v1`, ['--dest-creds', creds]);
  };

  test('htpasswd Basic auth: good credentials pull, bad ones and none are refused', async () => {
    requireTools('docker-registry', 'htpasswd', 'umoci', 'skopeo');
    const reg = await startRegistry({ kind: 'htpasswd', user: 'alice', password: 's3cret' });
    try {
      await seed(reg.host, 'alice:s3cret');
      const out = path.join(work, 'basic-ok');
      await pullImage({
        ref: 'org/private:v1',
        registry: { url: reg.url, username: 'alice', password: 's3cret' },
        dest: out,
        cacheDir: path.join(work, 'c1'),
      });
      assert.equal(readFileSync(path.join(out, 'secret/file'), 'utf8'), 'authorized\n');
      const list = await listRegistryImages({ url: reg.url, username: 'alice', password: 's3cret' });
      assert.deepEqual(list, [{ repository: 'org/private', tags: ['v1'] }]);
      await assert.rejects(
        pullImage({
          ref: 'org/private:v1',
          registry: { url: reg.url, username: 'alice', password: 'wrong' },
          dest: path.join(work, 'basic-bad'),
          cacheDir: path.join(work, 'c2'),
        }),
        isKind('failed_precondition', new RegExp(`registry ${reg.host} refused the credentials for user 'alice'`)),
      );
      await assert.rejects(
        pullImage({
          ref: 'org/private:v1',
          registry: { url: reg.url },
          dest: path.join(work, 'basic-none'),
          cacheDir: path.join(work, 'c2'),
        }),
        isKind('failed_precondition', /requires credentials/),
      );
    } finally {
      await reg.stop();
    }
  });

  test('Bearer token auth through the realm the registry names', async () => {
    requireTools('docker-registry', 'openssl', 'umoci', 'skopeo');
    const service = 'tb-test-registry';
    const issuer = 'tb-test-issuer';
    const tokens = await startTokenIssuer({ user: 'bob', password: 'hunter2', service, issuer });
    const reg = await startRegistry({ kind: 'token', realm: tokens.realm, service, issuer, certFile: tokens.certFile });
    try {
      await seed(reg.host, 'bob:hunter2');
      const challenge = (await fetch(`${reg.url}/v2/`)).headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^Bearer realm=/, 'the real registry sends the Bearer challenge');
      const before = tokens.requests();
      const out = path.join(work, 'bearer-ok');
      await pullImage({
        ref: 'org/private:v1',
        registry: { url: reg.url, username: 'bob', password: 'hunter2' },
        dest: out,
        cacheDir: path.join(work, 'c3'),
      });
      assert.equal(readFileSync(path.join(out, 'secret/file'), 'utf8'), 'authorized\n');
      assert.equal(tokens.requests() - before, 1, 'one token serves the whole pull');
      const list = await listRegistryImages({ url: reg.url, username: 'bob', password: 'hunter2' });
      assert.deepEqual(list, [{ repository: 'org/private', tags: ['v1'] }]);
      await assert.rejects(
        pullImage({
          ref: 'org/private:v1',
          registry: { url: reg.url, username: 'bob', password: 'nope' },
          dest: path.join(work, 'bearer-bad'),
          cacheDir: path.join(work, 'c4'),
        }),
        isKind(
          'failed_precondition',
          /token server 127\.0\.0\.1:\d+ of registry .* refused the credentials for user 'bob'/,
        ),
      );
    } finally {
      await reg.stop();
      await tokens.stop();
    }
  });
});

describe('unpacking hostile archives', () => {
  test('no path, symlink or hard link reaches outside the root', async () => {
    const work = tmpDir('hostile');
    try {
      const root = path.join(work, 'root');
      const outside = path.join(work, 'outside');
      mkdirSync(root);
      mkdirSync(outside);
      writeFileSync(path.join(outside, 'victim'), 'untouched\n');
      const layer1 = path.join(work, 'l1.tar');
      writeFileSync(
        layer1,
        makeTar([
          { name: '../../escape-dotdot', data: 'x' },
          { name: '/abs-file', data: 'abs' },
          { name: 'etc/', type: 'dir' },
          { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
          { name: 'abs-link', type: 'symlink', linkname: outside },
          { name: 'up-link', type: 'symlink', linkname: '../../../../..' },
          { name: 'abs-link/through-same-layer', data: 'same layer' },
          { name: 'hard', type: 'hardlink', linkname: '../../../../etc/passwd' },
        ]),
      );
      await applyLayer(root, layer1, { label: 'layer 1' });
      const layer2 = path.join(work, 'l2.tar');
      writeFileSync(
        layer2,
        makeTar([
          { name: 'abs-link/victim', data: 'overwritten?' },
          { name: 'up-link/tmp-escape', data: 'y' },
          { name: 'up-link/.wh.etc' }, // a whiteout through a symlink deletes inside the root only
        ]),
      );
      await applyLayer(root, layer2, { label: 'layer 2' });

      assert.deepEqual(readdirSync(outside), ['victim']);
      assert.equal(readFileSync(path.join(outside, 'victim'), 'utf8'), 'untouched\n');
      assert.ok(
        !existsSync(path.join(work, 'escape-dotdot')) && !existsSync(path.join(path.dirname(work), 'escape-dotdot')),
      );
      assert.equal(readFileSync(path.join(root, 'escape-dotdot'), 'utf8'), 'x', '.. stops at the root');
      assert.equal(readFileSync(path.join(root, 'abs-file'), 'utf8'), 'abs');
      // The absolute symlink points at `outside` as seen from inside the root: the writes land under root/<outside>.
      assert.equal(readFileSync(path.join(root, outside, 'through-same-layer'), 'utf8'), 'same layer');
      assert.equal(readFileSync(path.join(root, outside, 'victim'), 'utf8'), 'overwritten?');
      assert.equal(readFileSync(path.join(root, 'tmp-escape'), 'utf8'), 'y');
      assert.ok(!existsSync(path.join(root, 'etc')), 'the whiteout removed root/etc');
      assert.equal(
        readFileSync(path.join(root, 'hard'), 'utf8'),
        'root:x:0:0::/root:/bin/sh\n',
        'the hard link is to root/etc/passwd',
      );
      assert.notEqual(readFileSync('/etc/passwd', 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('a layer whose bytes differ from its diff_id changes nothing', async () => {
    const work = tmpDir('diffid');
    try {
      const root = path.join(work, 'root');
      mkdirSync(root);
      const layer = path.join(work, 'l.tar');
      writeFileSync(layer, makeTar([{ name: 'f', data: 'x' }]));
      await assert.rejects(
        applyLayer(root, layer, { label: 'layer 1', diffId: `sha256:${'1'.repeat(64)}` }),
        isKind('failed_precondition', /diff|config says/),
      );
      assert.deepEqual(readdirSync(root), []);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
