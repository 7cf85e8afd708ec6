/**
 * Volumes end to end, with the stock `e2b` npm SDK (`Volume`, `volumeMounts`) against a real server and real
 * sandboxes: two sandboxes share a volume at once, contents survive kill and pause/resume, the content API reads and
 * writes without a sandbox, the size limit is a real ENOSPC inside and a 507 from the file API, delete is refused while
 * mounted. Abuse: a symlink to /etc/passwd (and to a host directory) planted from inside a sandbox is never followed
 * by the content API, `..` paths are refused, another team can neither see nor mount nor read the volume, bad mounts
 * fail before anything starts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox, Volume } from 'e2b';
import * as tb from 'tensor-box';
import { api, startTestServer, type TestServer } from './helpers/harness.js';
import { as, makeTeam } from './helpers/teams.js';
import { cliFor } from './helpers/cli.js';

let s: TestServer;
const sandboxes: Sandbox[] = [];
before(async () => {
  s = await startTestServer();
  process.env.E2B_API_URL = s.url;
  process.env.E2B_SANDBOX_URL = s.url;
  process.env.E2B_API_KEY = s.apiKey;
  process.env.E2B_VOLUME_API_URL = s.url;
});
after(async () => {
  for (const sbx of sandboxes) await sbx.kill().catch(() => {});
  await s?.close();
});

const create = async (mounts: Record<string, Volume | string>, opts: { timeoutMs?: number } = {}) => {
  const sbx = await Sandbox.create({ timeoutMs: opts.timeoutMs ?? 120_000, volumeMounts: mounts });
  sandboxes.push(sbx);
  return sbx;
};
const sh = async (sbx: Sandbox, cmd: string, user: 'user' | 'root' = 'user') =>
  (await sbx.commands.run(cmd, { user })).stdout;

/** A raw content API call with a token (or key). */
async function content(method: string, volumeId: string, what: string, q: string, token: string, body?: BodyInit) {
  const res = await fetch(`${s.url}/volumecontent/${volumeId}/${what}?${q}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
    body,
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

describe('volumes (stock e2b SDK)', () => {
  let vol: Volume;

  it('two sandboxes share a volume at once; the content API reads and writes it; contents survive kill', async () => {
    vol = await Volume.create('shared');
    assert.match(vol.volumeId, /^vol/);
    assert.ok(vol.token);
    const list = await Volume.list();
    assert.deepEqual(
      list.map((v) => v.name),
      ['shared'],
    );
    const [a, b] = await Promise.all([create({ '/mnt/shared': vol }), create({ '/home/user/data': 'shared' })]);
    await sh(a, 'echo from-a > /mnt/shared/a.txt');
    assert.equal(await sh(b, 'cat /home/user/data/a.txt'), 'from-a\n');
    await sh(b, 'mkdir -p /home/user/data/dir && echo from-b > /home/user/data/dir/b.txt');
    assert.equal(await sh(a, 'cat /mnt/shared/dir/b.txt'), 'from-b\n');
    assert.deepEqual((await a.getInfo()).volumeMounts, [{ name: 'shared', path: '/mnt/shared' }]);

    // The content API, without any sandbox's help.
    assert.equal(await vol.readFile('/a.txt'), 'from-a\n');
    await vol.writeFile('/from-api.txt', 'written by the API');
    assert.equal(await sh(a, 'cat /mnt/shared/from-api.txt'), 'written by the API');
    const names = (await vol.list('/')).map((e) => e.name).sort();
    assert.deepEqual(names, ['a.txt', 'dir', 'from-api.txt', 'lost+found']);
    assert.equal((await vol.getInfo('/dir/b.txt')).size, 7);

    // Delete refused while mounted (409 with a {code, message} body).
    const del = await api(s, 'DELETE', `/volumes/${vol.volumeId}`);
    assert.equal(del.status, 409);
    assert.equal(del.body.code, 409);
    assert.match(del.body.message, /is mounted by sandbox/);

    await a.kill();
    await b.kill();
    assert.equal(await vol.readFile('/dir/b.txt'), 'from-b\n');
    const c = await create({ '/work': vol });
    assert.equal(await sh(c, 'cat /work/a.txt /work/from-api.txt'), 'from-a\nwritten by the API');
    await c.kill();
  });

  it('pause/resume keeps the mount and the contents; the API writes while it is paused', async () => {
    const sbx = await create({ '/mnt/shared': vol });
    await sh(sbx, 'echo before-pause > /mnt/shared/p.txt');
    // A process holds a file on the volume open across the pause.
    await sbx.commands.run('exec 3>>/mnt/shared/held.log; while sleep 0.2; do echo tick >&3; done', {
      background: true,
    });
    await sbx.pause();
    await vol.writeFile('/while-paused.txt', 'paused');
    await Sandbox.connect(sbx.sandboxId);
    assert.equal(await sh(sbx, 'cat /mnt/shared/p.txt /mnt/shared/while-paused.txt'), 'before-pause\npaused');
    await sh(sbx, 'echo after-resume > /mnt/shared/r.txt');
    assert.equal(await vol.readFile('/r.txt'), 'after-resume\n');
    const n0 = (await vol.readFile('/held.log')).length;
    await new Promise((r) => setTimeout(r, 600));
    assert.ok((await vol.readFile('/held.log')).length > n0, 'the resumed process writes to its open file');
    assert.match(await sh(sbx, 'grep " /mnt/shared " /proc/self/mountinfo'), /\/mnt\/shared/);
    await sbx.kill();
  });

  it('the size limit is a real ENOSPC inside and a 507 from the file API', async () => {
    const made = await api(s, 'POST', '/volumes', { name: 'small', sizeMB: 16 });
    assert.equal(made.status, 201);
    assert.equal(made.body.sizeMB, 16);
    const sbx = await create({ '/mnt/small': 'small' });
    const r = await sbx.commands.run('dd if=/dev/zero of=/mnt/small/big bs=1M count=32 2>&1; echo rc=$?', {
      user: 'user',
    });
    assert.match(r.stdout, /No space left on device/);
    assert.match(r.stdout, /rc=1/);
    await sh(sbx, 'rm /mnt/small/big');
    await sbx.kill();
    const big = Buffer.alloc(24 << 20, 1);
    const put = await content('PUT', made.body.volumeID, 'file', 'path=/big.bin', made.body.token, big);
    assert.equal(put.status, 507);
    assert.match(put.json.message, /volume 'small' is full \(its size is 16 MiB\)/);
    // Nothing half-written is left.
    const ls = await content('GET', made.body.volumeID, 'dir', 'path=/', made.body.token);
    assert.deepEqual(
      ls.json.map((e: { name: string }) => e.name),
      ['lost+found'],
    );
    assert.equal((await api(s, 'DELETE', `/volumes/${made.body.volumeID}`)).status, 204);
    assert.equal((await api(s, 'GET', `/volumes/${made.body.volumeID}`)).status, 404);
  });

  it('a symlink planted from inside a sandbox is never followed by the content API; `..` is refused', async () => {
    const victim = mkdtempSync(path.join(os.tmpdir(), 'tb-victim-'));
    writeFileSync(path.join(victim, 'secret'), 'host secret');
    const passwd = readFileSync('/etc/passwd', 'utf8');
    try {
      const sbx = await create({ '/mnt/shared': vol });
      await sh(
        sbx,
        'cd /mnt/shared && ln -s /etc/passwd pw && ln -s / rootlink && mkdir -p d && ln -s /etc d/etc && ' +
          `ln -s ${victim} victim && ln -s ../../../../etc/passwd rel`,
        'root',
      );
      await sbx.kill();
      const t = vol.token;
      const id = vol.volumeId;
      for (const p of ['/pw', '/rootlink/etc/passwd', '/d/etc/passwd', '/victim/secret', '/rel']) {
        const r = await content('GET', id, 'file', `path=${encodeURIComponent(p)}`, t);
        assert.equal(r.status, 400, `${p}: ${r.status} ${r.text.slice(0, 80)}`);
        assert.doesNotMatch(r.text, /root:x:0|host secret/);
      }
      for (const p of ['/../../../etc/passwd', '/a/../../etc/passwd', '..']) {
        const r = await content('GET', id, 'file', `path=${encodeURIComponent(p)}`, t);
        assert.equal(r.status, 400);
        assert.match(r.json.message, /'\.' and '\.\.' segments are not allowed/);
      }
      // Listing through a link is refused; the link itself is reported, not followed.
      assert.equal((await content('GET', id, 'dir', 'path=/victim', t)).status, 400);
      assert.equal((await content('GET', id, 'dir', 'path=/d/etc', t)).status, 400);
      const st = await vol.getInfo('/pw');
      assert.equal(st.type, 'symlink');
      assert.equal(st.target, '/etc/passwd');
      // Writes through a link never reach the host: writing at the link's own path replaces the link.
      const w = await content('PUT', id, 'file', 'path=/victim/secret', t, 'pwned');
      assert.equal(w.status, 400);
      await vol.writeFile('/pw', 'replaced the link');
      assert.equal((await vol.getInfo('/pw')).type, 'file');
      assert.equal(
        (await content('PATCH', id, 'path', 'path=/victim', t, JSON.stringify({ mode: 0o777 }))).status,
        400,
      );
      assert.equal((await content('POST', id, 'dir', 'path=/rootlink/tmp/x&force=true', t)).status, 400);
      // Removing a link removes the link only.
      await vol.remove('/victim');
      await vol.remove('/rootlink');
      assert.equal(readFileSync(path.join(victim, 'secret'), 'utf8'), 'host secret');
      assert.equal(readFileSync('/etc/passwd', 'utf8'), passwd);
      assert.equal(existsSync('/etc/passwd'), true);
    } finally {
      rmSync(victim, { recursive: true, force: true });
    }
  });

  it('another team can neither see, mount, read nor delete the volume; names are per team', async () => {
    const other = await makeTeam(s, `vol-other-${process.pid}`);
    const b = as(s.url, other.key);
    assert.equal((await b('GET', `/volumes/${vol.volumeId}`)).status, 404);
    assert.equal((await b('GET', '/volumes/shared')).status, 404);
    assert.deepEqual((await b('GET', '/volumes')).body, []);
    assert.equal((await b('DELETE', `/volumes/${vol.volumeId}`)).status, 404);
    const before = (await api(s, 'GET', '/v2/sandboxes')).body.length;
    const mount = await b('POST', '/sandboxes', {
      templateID: 'default',
      volumeMounts: [{ name: 'shared', path: '/mnt/x' }],
    });
    assert.equal(mount.status, 404);
    assert.match(mount.body.message, /volume 'shared' not found/);
    // The content API: B's key on A's volume is a 404; A's token on B's volume is refused.
    assert.equal((await content('GET', vol.volumeId, 'file', 'path=/a.txt', other.key)).status, 404);
    const own = await b('POST', '/volumes', { name: 'shared', sizeMB: 16 });
    assert.equal(own.status, 201, 'the same name in another team');
    assert.equal((await content('GET', own.body.volumeID, 'dir', 'path=/', vol.token)).status, 401);
    assert.equal((await content('GET', own.body.volumeID, 'dir', 'path=/', own.body.token)).status, 200);
    assert.equal((await b('DELETE', `/volumes/${own.body.volumeID}`)).status, 204);
    assert.equal((await api(s, 'GET', '/v2/sandboxes')).body.length, before);
  });

  it('bad names, sizes and mounts are 400/404/409 before anything starts; nothing is left behind', async () => {
    for (const [body, why] of [
      [{ name: '../x' }, /invalid volume name/],
      [{ name: '' }, /invalid volume name/],
      [{ name: 'ok', sizeMB: 0 }, /sizeMB/],
    ] as const) {
      const r = await api(s, 'POST', '/volumes', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.message, why);
    }
    assert.equal((await api(s, 'POST', '/volumes', { name: 'shared' })).status, 409);
    const before = (await api(s, 'GET', '/v2/sandboxes')).body.length;
    for (const [p, why] of [
      ['/', /cannot be mounted at '\/'/],
      ['relative/path', /absolute path/],
      ['/proc/x', /under \/proc/],
      ['/dev', /under \/dev/],
      ['/run/tensor-box/envd', /under \/run\/tensor-box/],
      ['/a/../proc', /'\.' or '\.\.'/],
    ] as const) {
      const r = await api(s, 'POST', '/sandboxes', {
        templateID: 'default',
        volumeMounts: [{ name: 'shared', path: p }],
      });
      assert.equal(r.status, 400, p);
      assert.equal(r.body.code, 400);
      assert.match(r.body.message, why);
    }
    const twice = await api(s, 'POST', '/sandboxes', {
      templateID: 'default',
      volumeMounts: [
        { name: 'shared', path: '/mnt/a' },
        { name: 'shared', path: '/mnt/a/b' },
      ],
    });
    assert.equal(twice.status, 400);
    const missing = await api(s, 'POST', '/sandboxes', {
      templateID: 'default',
      volumeMounts: [{ name: 'nope', path: '/mnt/a' }],
    });
    assert.equal(missing.status, 404);
    assert.equal((await api(s, 'GET', '/v2/sandboxes')).body.length, before);
    assert.equal(await Volume.destroy(vol.volumeId), true);
    assert.deepEqual(await Volume.list(), []);
  });
});

describe('volumes (our TypeScript SDK)', () => {
  it('Volume.create/get/list/delete, volumeMounts, and the file helpers', async () => {
    const conn = s.conn;
    const vol = await tb.Volume.create('ts-sdk', { ...conn, sizeMB: 32 });
    assert.equal(vol.sizeMB, 32);
    assert.equal((await tb.Volume.get('ts-sdk', conn)).volumeId, vol.volumeId);
    assert.ok((await tb.Volume.list(conn)).some((v) => v.name === 'ts-sdk'));
    await vol.makeDir('/in/deep', { force: true });
    await vol.writeFile('/in/deep/x.bin', new Uint8Array([1, 2, 3]), { mode: 0o600 });
    const sbx = await tb.Sandbox.create('default', { ...conn, timeoutMs: 60_000, volumeMounts: { '/mnt/v': vol } });
    try {
      const r = await sbx.commands.run('stat -c %a:%s /mnt/v/in/deep/x.bin; echo out > /mnt/v/out.txt', {
        user: 'root',
      });
      assert.equal(r.stdout, '600:3\n');
      await assert.rejects(tb.Volume.delete('ts-sdk', conn), tb.ConflictError);
    } finally {
      await sbx.kill();
    }
    assert.equal(await vol.readFile('/out.txt'), 'out\n');
    assert.deepEqual(await vol.readFile('/in/deep/x.bin', { format: 'bytes' }), new Uint8Array([1, 2, 3]));
    assert.deepEqual(
      (await vol.list('/', { depth: 3 })).map((e) => e.path),
      ['/in', '/in/deep', '/in/deep/x.bin', '/lost+found', '/out.txt'],
    );
    assert.equal((await vol.getInfo('/in')).type, 'directory');
    await vol.remove('/in');
    await assert.rejects(vol.getInfo('/in'), tb.NotFoundError);
    await assert.rejects(vol.writeFile('/big', new Uint8Array(40 << 20)), tb.NotEnoughSpaceError);
    await tb.Volume.delete(vol.volumeId, conn);
    await assert.rejects(tb.Volume.get('ts-sdk', conn), tb.NotFoundError);
  });
});

describe('volumes (CLI)', () => {
  const cli = cliFor(() => s);
  it('volume create/list/get/delete; sandbox create --volume NAME:/path', async () => {
    const made = await cli(['volume', 'create', 'cli-vol', '--size-mb', '16']);
    assert.equal(made.code, 0, made.stderr);
    const id = made.stdout.trim();
    assert.match(id, /^vol/);
    const list = JSON.parse((await cli(['vol', 'ls', '--json'])).stdout);
    assert.ok(list.some((v: { volumeID: string; sizeMB: number }) => v.volumeID === id && v.sizeMB === 16));
    assert.match((await cli(['volume', 'get', 'cli-vol'])).stdout, /cli-vol\s+16/);
    const sbx = await cli(['sandbox', 'create', '--volume', 'cli-vol:/mnt/c', '--timeout-ms', '60000']);
    assert.equal(sbx.code, 0, sbx.stderr);
    const sandboxId = sbx.stdout.trim();
    assert.equal((await cli(['sandbox', 'exec', sandboxId, '--', 'sh', '-c', 'echo cli > /mnt/c/f'])).code, 0);
    const busy = await cli(['volume', 'delete', 'cli-vol']);
    assert.equal(busy.code, 6, 'conflict exit code');
    assert.match(busy.stderr, /mounted by sandbox/);
    await cli(['sandbox', 'kill', sandboxId]);
    assert.equal((await cli(['volume', 'rm', id])).code, 0);
    assert.equal((await cli(['volume', 'get', id])).code, 3, 'not found exit code');
    assert.equal((await cli(['volume', 'create', 'x', '--size-mb', 'big'])).code, 2);
    assert.equal((await cli(['sandbox', 'create', '--volume', 'no-path'])).code, 2);
  });
});
