/**
 * The stock `e2b` npm SDK's filesystem features that depend on the envd version we report: file metadata, watch
 * events with entry info and the event sequence of a write, writes below missing directories. Pointed at the server
 * with E2B_API_URL / E2B_SANDBOX_URL / E2B_API_KEY, as a self-hosting user would (tests/e2b-compat.test.ts has the
 * rest).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FilesystemEventType, FileType, InvalidArgumentError, Sandbox, type FilesystemEvent } from 'e2b';
import { startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
let sbx: Sandbox;
before(async () => {
  s = await startTestServer();
  process.env.E2B_API_URL = s.url;
  process.env.E2B_SANDBOX_URL = s.url;
  process.env.E2B_API_KEY = s.apiKey;
  sbx = await Sandbox.create({ timeoutMs: 180_000 });
});
after(async () => {
  await sbx?.kill().catch(() => {});
  await s?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('stock e2b SDK: files', () => {
  it('reports an envd version with metadata, watch entry info and network-mount watching', async () => {
    const info = await Sandbox.getInfo(sbx.sandboxId);
    const [major, minor, patch] = (info as unknown as { envdVersion: string }).envdVersion.split('.').map(Number);
    assert.ok(major > 0 || minor > 6 || (minor === 6 && patch >= 4), `envdVersion ${major}.${minor}.${patch}`);
  });

  it('file metadata: write (multipart and octet-stream), getInfo, list, rename, overwrite clears, xattrs', async () => {
    const metadata = { author: 'mish', purpose: 'upload' };
    const written = await sbx.files.write('meta.txt', 'with metadata', { metadata });
    assert.deepEqual(written.metadata, metadata);
    assert.deepEqual((await sbx.files.getInfo('meta.txt')).metadata, metadata);
    const octet = await sbx.files.write('meta-octet.txt', 'x', { metadata, useOctetStream: true });
    assert.deepEqual(octet.metadata, metadata);

    const many = await sbx.files.writeFiles(
      [
        { path: 'mdir/1.txt', data: '1' },
        { path: 'mdir/2.txt', data: '2' },
      ],
      { metadata: { source: 'suite' } },
    );
    assert.deepEqual(
      many.map((f) => f.metadata),
      [{ source: 'suite' }, { source: 'suite' }],
    );
    const listed = await sbx.files.list('mdir');
    assert.deepEqual(
      listed.map((e) => e.metadata),
      [{ source: 'suite' }, { source: 'suite' }],
    );

    assert.deepEqual((await sbx.files.rename('meta.txt', 'meta-renamed.txt')).metadata, metadata);
    const overwritten = await sbx.files.write('meta-renamed.txt', 'no metadata now');
    assert.equal(overwritten.metadata, undefined);
    assert.equal((await sbx.files.getInfo('meta-renamed.txt')).metadata, undefined);

    await sbx.commands.run(
      `python3 -c "import os; os.setxattr('/home/user/meta-octet.txt', 'user.e2b.author', b'inside')"`,
    );
    assert.deepEqual((await sbx.files.getInfo('meta-octet.txt')).metadata, { author: 'inside', purpose: 'upload' });

    await assert.rejects(sbx.files.write('bad.txt', 'x', { metadata: { 'bad key': 'v' } }), InvalidArgumentError);
    // What the SDK lets through but envd refuses (more than one xattr block): 400 → InvalidArgumentError, no file.
    const big = 'v'.repeat(1500);
    await assert.rejects(
      sbx.files.write('big.txt', 'x', { metadata: { a: big, b: big, c: big } }),
      InvalidArgumentError,
    );
    assert.equal(await sbx.files.exists('big.txt'), false);
  });

  it('watch events carry entry info; a write shows CREATE, CHMOD, WRITE as with E2B', async () => {
    await sbx.files.makeDir('watched');
    const events: FilesystemEvent[] = [];
    const handle = await sbx.files.watchDir('watched', (e) => void events.push(e), { includeEntry: true });
    await sbx.files.write('watched/a.txt', 'first');
    for (let i = 0; i < 50 && !events.some((e) => e.type === FilesystemEventType.WRITE); i++) await sleep(100);
    await sleep(300); // nothing more should come
    await handle.stop();
    assert.deepEqual(
      events.map((e) => `${e.type}:${e.name}`),
      ['create:a.txt', 'chmod:a.txt', 'write:a.txt'],
    );
    const write = events[2];
    assert.equal(write.entry?.name, 'a.txt');
    assert.equal(write.entry?.path, '/home/user/watched/a.txt');
    assert.equal(write.entry?.type, FileType.FILE);
    assert.equal(write.entry?.size, 5);

    const plain = await sbx.files.watchDir('watched', () => {}, { allowNetworkMounts: true });
    await plain.stop();
  });

  it(
    'writes below missing directories as user: root makes ' + 'them and hands them over (not where user cannot look)',
    async () => {
      const info = await sbx.files.write('/0/sub/file.txt', 'deep');
      assert.equal(info.path, '/0/sub/file.txt');
      assert.equal(await sbx.files.read('/0/sub/file.txt'), 'deep');
      for (const p of ['/0', '/0/sub', '/0/sub/file.txt']) assert.equal((await sbx.files.getInfo(p)).owner, 'user', p);
      assert.equal(await sbx.files.makeDir('/1/made'), true);
      assert.equal((await sbx.files.getInfo('/1')).owner, 'user');
      // /root is root's (0700): a user's write below it is still refused, and nothing is left there.
      await assert.rejects(sbx.files.write('/root/new/file.txt', 'x'), (e: Error) =>
        /permission|denied|401/i.test(e.message),
      );
      const r = await sbx.commands.run('ls /root/new 2>&1 || echo absent', { user: 'root' });
      assert.match(r.stdout, /absent/);
    },
  );

  it(
    'downloadUrl/uploadUrl under E2B_SANDBOX_URL (no ' + 'sandbox ID in them) reach the sandbox that signed them',
    async () => {
      await sbx.files.write('shared.txt', 'from the first sandbox');
      const down = await sbx.downloadUrl('shared.txt');
      assert.equal(new URL(down).pathname, '/files', 'the stock SDK names no sandbox');
      const got = await fetch(down);
      assert.equal(got.status, 200);
      assert.equal(await got.text(), 'from the first sandbox');

      const up = await sbx.uploadUrl('uploaded.txt', { useSignatureExpiration: 60 });
      const form = new FormData();
      form.append('file', new Blob(['sent by a browser']), 'uploaded.txt');
      assert.equal((await fetch(up, { method: 'POST', body: form })).status, 200);
      assert.equal(await sbx.files.read('uploaded.txt'), 'sent by a browser');

      const expired = await fetch(await sbx.downloadUrl('shared.txt', { useSignatureExpiration: -10_000 }));
      assert.equal(expired.status, 401);
      assert.deepEqual(await expired.json(), { code: 401, message: 'signature is already expired' });
    },
  );

  it(
    'abuse: a /files URL without a valid signature reaches ' + 'no sandbox, and a signature reaches only its own',
    async () => {
      const other = await Sandbox.create({ timeoutMs: 60_000 });
      try {
        await other.files.write('shared.txt', 'from the other sandbox');
        await sbx.files.write('shared.txt', 'from the first sandbox');
        const signed = new URL(await sbx.downloadUrl('shared.txt'));
        const status = async (u: URL | string, init?: RequestInit) => {
          const r = await fetch(u, init);
          return `${r.status} ${r.status === 200 ? await r.text() : (await r.json()).message}`;
        };
        // Each sandbox's URL reads its own file, whatever the other holds at the same path.
        assert.equal(await status(signed), '200 from the first sandbox');
        assert.equal(await status(await other.downloadUrl('shared.txt')), '200 from the other sandbox');
        const bare = new URL(signed);
        bare.searchParams.delete('signature');
        assert.match(await status(bare), /^401 missing signature/);
        const forged = new URL(signed);
        forged.searchParams.set('signature', 'v1_' + 'A'.repeat(43));
        assert.match(await status(forged), /^401 invalid signature/);
        const otherPath = new URL(signed);
        otherPath.searchParams.set('path', '/etc/shadow');
        assert.match(await status(otherPath), /^401 invalid signature/, 'the signature covers the path');
        const asRoot = new URL(signed);
        asRoot.searchParams.set('username', 'root');
        assert.match(await status(asRoot), /^401 invalid signature/, 'and the user');
        const form = new FormData();
        form.append('file', new Blob(['x']), 'shared.txt');
        assert.match(
          await status(signed, { method: 'POST', body: form }),
          /^401 invalid signature/,
          'a read URL cannot write',
        );
        assert.match(await status(signed, { method: 'DELETE' }), /^401 missing signature|^401 invalid signature/);
        assert.equal(await sbx.files.read('shared.txt'), 'from the first sandbox');
        // A sandbox that is gone: its URLs reach nothing.
        const gone = await other.downloadUrl('shared.txt');
        await other.kill();
        assert.match(await status(gone), /^401 invalid signature/);
      } finally {
        await other.kill().catch(() => {});
      }
    },
  );
});
