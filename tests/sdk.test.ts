/** The TypeScript SDK (`tensor-box`) against a real server and real sandboxes: every call the seeds show. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  Sandbox,
  CommandExitError,
  NotFoundError,
  TimeoutError,
  AuthenticationError,
  InvalidArgumentError,
} from 'tensor-box';
import { httpGet, run, startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
let sbx: Sandbox;
before(async () => {
  s = await startTestServer();
  sbx = await Sandbox.create('default', {
    ...s.conn,
    timeoutMs: 120_000,
    envs: { API_TOKEN: 'xxx' },
    metadata: { userId: '123' },
  });
});
after(async () => {
  await sbx?.kill().catch(() => {});
  await s?.close();
});

describe('Sandbox', () => {
  it('reads domain and key from TENSOR_BOX_DOMAIN / TENSOR_BOX_API_KEY', async () => {
    process.env.TENSOR_BOX_DOMAIN = s.url;
    process.env.TENSOR_BOX_API_KEY = s.apiKey;
    try {
      const info = await Sandbox.getInfo(sbx.sandboxId);
      assert.equal(info.sandboxId, sbx.sandboxId);
    } finally {
      delete process.env.TENSOR_BOX_DOMAIN;
      delete process.env.TENSOR_BOX_API_KEY;
    }
  });

  it('getInfo, isRunning, list with state and metadata filters', async () => {
    const info = await sbx.getInfo();
    assert.equal(info.state, 'running');
    assert.deepEqual(info.metadata, { userId: '123' });
    assert.equal(await sbx.isRunning(), true);
    const mine = await Sandbox.list({ ...s.conn, query: { metadata: { userId: '123' } } });
    assert.deepEqual(
      mine.map((x) => x.sandboxId),
      [sbx.sandboxId],
    );
    const none = await Sandbox.list({ ...s.conn, query: { metadata: { userId: 'nobody' } } });
    assert.equal(none.length, 0);
    const paused = await Sandbox.list({ ...s.conn, query: { state: ['paused'] } });
    assert.equal(paused.length, 0);
    const pager = Sandbox.list({ ...s.conn, limit: 1 });
    assert.equal(pager.hasNext, true);
    const page = await pager.nextItems();
    assert.equal(page.length, 1);
  });

  it('setTimeout and keepAlive move endAt', async () => {
    await sbx.setTimeout(200_000);
    const a = (await sbx.getInfo()).endAt.getTime() - Date.now();
    assert.ok(a > 190_000 && a <= 200_000, `endAt ${a}`);
    await sbx.keepAlive(300_000);
    const b = (await sbx.getInfo()).endAt.getTime() - Date.now();
    assert.ok(b > 290_000, `keepAlive extended: ${b}`);
  });

  it('connect returns a working handle; disconnect keeps the sandbox running', async () => {
    const again = await Sandbox.connect(sbx.sandboxId, s.conn);
    assert.equal((await again.commands.run('echo $API_TOKEN')).stdout.trim(), 'xxx');
    await again.disconnect();
    assert.equal(await sbx.isRunning(), true);
  });

  it('bad input gives typed errors', async () => {
    await assert.rejects(Sandbox.create('no-such-template', s.conn), NotFoundError);
    await assert.rejects(Sandbox.connect('nosuchsandbox0000000', s.conn), NotFoundError);
    await assert.rejects(
      Sandbox.create('default', { domain: s.url, apiKey: 'e2b_' + 'f'.repeat(32) }),
      AuthenticationError,
    );
    await assert.rejects(Sandbox.create('default', { ...s.conn, timeoutMs: 10_000_000_000 }), InvalidArgumentError);
    assert.equal(await Sandbox.kill('nosuchsandbox0000000', s.conn), false);
  });
});

describe('commands', () => {
  it('runs in the foreground with stdout, stderr and exit code', async () => {
    const r = await sbx.commands.run('echo out; echo err >&2; whoami; pwd');
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'out\nuser\n/home/user\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('throws CommandExitError on a non-zero exit', async () => {
    const err = await sbx.commands.run('echo partial; exit 3').catch((e) => e);
    assert.ok(err instanceof CommandExitError);
    assert.equal(err.exitCode, 3);
    assert.equal(err.stdout, 'partial\n');
  });

  it('honours envs, cwd, user and streams output through callbacks', async () => {
    const chunks: string[] = [];
    const r = await sbx.commands.run('for i in 1 2 3; do echo $FOO$i; sleep 0.05; done; pwd; id -u', {
      envs: { FOO: 'x' },
      cwd: '/tmp',
      user: 'root',
      onStdout: (d) => void chunks.push(d),
    });
    assert.equal(r.stdout, 'x1\nx2\nx3\n/tmp\n0\n');
    assert.ok(chunks.length >= 2, 'output arrived in several chunks');
    assert.equal(chunks.join(''), r.stdout);
    // Plain TCP for Go programs by default (CRIU cannot checkpoint multipath TCP), unless the caller says otherwise.
    assert.equal((await sbx.commands.run('echo $GODEBUG')).stdout, 'multipathtcp=0\n');
    assert.equal(
      (await sbx.commands.run('echo $GODEBUG', { envs: { GODEBUG: 'http2debug=1' } })).stdout,
      'http2debug=1\n',
    );
  });

  it('kills a command past its timeout and reports a timeout', async () => {
    const t0 = Date.now();
    await assert.rejects(sbx.commands.run('sleep 30', { timeoutMs: 1000 }), TimeoutError);
    assert.ok(Date.now() - t0 < 10_000);
    const ps = await sbx.commands.run('pgrep -x sleep || true');
    assert.equal(ps.stdout.trim(), '', 'the timed-out process was killed');
  });

  it('runs in the background: sendStdin, wait, kill, list, reconnect', async () => {
    const cat = await sbx.commands.run('cat', { background: true });
    await cat.sendStdin('hello\n');
    await cat.closeStdin();
    const r = await cat.wait();
    assert.equal(r.stdout, 'hello\n');

    const sleeper = await sbx.commands.run('sleep 600', { background: true });
    const listed = await sbx.commands.list();
    assert.ok(listed.some((p) => p.pid === sleeper.pid));
    sleeper.disconnect();
    const again = await sbx.commands.connect(sleeper.pid);
    assert.equal(await again.kill(), true);
    const err = await again.wait().catch((e) => e);
    assert.ok(err instanceof CommandExitError, 'killed process ends with a non-zero status');
    assert.ok(!(await sbx.commands.list()).some((p) => p.pid === sleeper.pid));
  });

  it('has sudo for the default user', async () => {
    const r = await sbx.commands.run('sudo -n id -u');
    assert.equal(r.stdout.trim(), '0');
  });
});

describe('files', () => {
  it('writes and reads text, bytes, blobs and streams', async () => {
    const info = await sbx.files.write('/tmp/hello.txt', 'Hello World!');
    assert.equal(info.path, '/tmp/hello.txt');
    assert.equal(info.type, 'file');
    assert.equal(await sbx.files.read('/tmp/hello.txt'), 'Hello World!');

    const bytes = new Uint8Array([0, 1, 2, 255]);
    await sbx.files.write('/tmp/blob.bin', bytes);
    assert.deepEqual(await sbx.files.read('/tmp/blob.bin', { format: 'bytes' }), bytes);
    await sbx.files.write('/tmp/blob2.bin', new Blob([bytes]));
    assert.deepEqual(await sbx.files.read('/tmp/blob2.bin', { format: 'bytes' }), bytes);

    const big = randomBytes(5 << 20);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < big.length; i += 1 << 20) c.enqueue(big.subarray(i, i + (1 << 20)));
        c.close();
      },
    });
    await sbx.files.write('/tmp/big.bin', stream);
    const back = await sbx.files.read('/tmp/big.bin', { format: 'stream' });
    const buf = Buffer.from(await new Response(back).arrayBuffer());
    assert.equal(createHash('sha256').update(buf).digest('hex'), createHash('sha256').update(big).digest('hex'));
  });

  it('writes many files at once, owned by the user', async () => {
    const infos = await sbx.files.write([
      { path: '/home/user/a.txt', data: 'aaa' },
      { path: '/home/user/sub/b.txt', data: 'bbb' },
    ]);
    assert.deepEqual(
      infos.map((i) => i.path),
      ['/home/user/a.txt', '/home/user/sub/b.txt'],
    );
    assert.equal(await sbx.files.read('/home/user/sub/b.txt'), 'bbb');
    assert.equal((await sbx.files.getInfo('/home/user/sub/b.txt')).owner, 'user');
  });

  it('lists, makes dirs, checks existence, renames and removes', async () => {
    assert.equal(await sbx.files.makeDir('/home/user/project/src'), true);
    assert.equal(await sbx.files.makeDir('/home/user/project/src'), false);
    assert.equal(await sbx.files.exists('/home/user/project'), true);
    await sbx.files.write('/home/user/project/old.txt', 'x');
    await sbx.files.rename('/home/user/project/old.txt', '/home/user/project/new.txt');
    const entries = await sbx.files.list('/home/user/project');
    assert.deepEqual(entries.map((e) => `${e.name}:${e.type}`).sort(), ['new.txt:file', 'src:dir']);
    const stat = await sbx.files.getInfo('/home/user/project/new.txt');
    assert.equal(stat.size, 1);
    assert.equal(stat.permissions.length, 10);
    await sbx.files.remove('/home/user/project');
    assert.equal(await sbx.files.exists('/home/user/project'), false);
  });

  it('reading a missing file is NotFound', async () => {
    await assert.rejects(sbx.files.read('/nope/missing.txt'), NotFoundError);
    await assert.rejects(sbx.files.getInfo('/nope/missing.txt'), NotFoundError);
    await assert.rejects(sbx.files.list('/nope'), NotFoundError);
  });

  it('signed download and upload URLs work with curl, and a bad signature is refused', async () => {
    await sbx.files.write('/home/user/output.txt', 'downloadable');
    const dl = await sbx.downloadUrl('/home/user/output.txt');
    assert.equal(await run('curl', ['-sf', dl]), 'downloadable');
    const up = await sbx.uploadUrl('/home/user/input.txt', { useSignatureExpiration: 60 });
    await run('curl', ['-sf', '-X', 'POST', '-F', 'file=@-;filename=input.txt', up], 'uploaded');
    assert.equal(await sbx.files.read('/home/user/input.txt'), 'uploaded');
    const forged = dl.replace(/signature=[^&]+/, 'signature=v1_forged');
    const code = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', forged]);
    assert.equal(code, '401');
  });
});

describe('ports', () => {
  it('getHost(port) answers through the ingress', async () => {
    await sbx.commands.run('mkdir -p /tmp/www && echo served > /tmp/www/index.html');
    await sbx.commands.run('cd /tmp/www && python3 -m http.server 8000', { background: true });
    const host = sbx.getHost(8000);
    assert.equal(
      host,
      `${sbx.sandboxId}-8000.` +
        `${new URL(s.url).hostname === '127.0.0.1' ? `localhost:${new URL(s.url).port}` : new URL(s.url).host}`,
    );
    let body = '';
    for (let i = 0; i < 50 && body !== 'served\n'; i++) {
      body = await httpGet(`${s.url}/index.html`, host).then((r) => (r.status === 200 ? r.body : ''));
      if (body !== 'served\n') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, 'served\n');
    // E2B's spelling <port>-<id> works too, and curl resolves *.localhost by itself.
    const e2bHost = `8000-${sbx.sandboxId}.localhost:${new URL(s.url).port}`;
    assert.equal(await run('curl', ['-sf', `http://${e2bHost}/index.html`]), 'served\n');
  });

  it('refuses the agent internal routes from outside', async () => {
    const r = await fetch(`${s.url}/init`, {
      method: 'POST',
      headers: { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983' },
      body: '{}',
    });
    assert.equal(r.status, 403);
  });
});

describe('kill', () => {
  it('kills by instance and statically', async () => {
    const a = await Sandbox.create({ ...s.conn });
    await a.kill();
    assert.equal(await a.isRunning(), false);
    await assert.rejects(Sandbox.getInfo(a.sandboxId, s.conn), NotFoundError);
    const b = await Sandbox.create('default', s.conn);
    assert.equal(await Sandbox.kill(b.sandboxId, s.conn), true);
    assert.equal(await Sandbox.kill(b.sandboxId, s.conn), false);
  });
});
