/**
 * Terminals, watching, ingress WebSockets, metrics and logs with real sandboxes: the SDK's PTY (size and resize seen by
 * `stty size`), the control plane's terminal and watch WebSockets, recursive watch events, a WebSocket echo server in a
 * sandbox reached through the ingress, metrics that rise under a memory-hungry process, and lifecycle logs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { Sandbox, NotFoundError, type WatchEvent } from 'tensor-box';
import { api, startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
let sbx: Sandbox;
before(async () => {
  s = await startTestServer({ metricsIntervalMs: 250 });
  sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
});
after(async () => {
  await sbx?.kill().catch(() => {});
  await s?.close();
});

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A minimal RFC 6455 echo server (one connection at a time, text frames < 126 bytes), for the ingress test. */
const WS_ECHO = String.raw`
import base64, hashlib, socket
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('0.0.0.0', 8765)); srv.listen()
while True:
    c, _ = srv.accept()
    req = b''
    while b'\r\n\r\n' not in req: req += c.recv(4096)
    key = [l.split(b': ')[1] for l in req.split(b'\r\n') if l.lower().startswith(b'sec-websocket-key')][0].strip()
    acc = base64.b64encode(hashlib.sha1(key + b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest())
    c.sendall(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
              b'Sec-WebSocket-Accept: ' + acc + b'\r\n\r\n')
    while True:
        h = c.recv(2)
        if len(h) < 2 or h[0] & 0x0f == 8: break
        n = h[1] & 0x7f; mask = c.recv(4); data = bytearray(c.recv(n))
        for i in range(n): data[i] ^= mask[i % 4]
        out = b'echo:' + bytes(data)
        c.sendall(bytes([0x81, len(out)]) + out)
    c.close()
`;

describe('terminals and watching', () => {
  it('SDK pty: stty size sees the size and a resize; input, exit code, isOpen', async () => {
    let out = '';
    const pty = await sbx.pty.create({ cols: 100, rows: 30, onData: (d) => void (out += new TextDecoder().decode(d)) });
    await pty.sendInput('stty size\n');
    await until('30 100', () => /\b30 100\b/.test(out));
    await pty.resize({ cols: 132, rows: 43 });
    await pty.sendInput('stty size; tty\n');
    await until('43 132', () => /\b43 132\b/.test(out) && /\/dev\/pts\/\d+/.test(out));
    await pty.sendInput('exit 5\n');
    assert.equal(await pty.exited, 5);
    assert.equal(pty.isOpen, false);
  });

  it('terminal WebSocket on the control plane: output, resize, exit; refused without a key', async () => {
    const url = `${s.url.replace('http', 'ws')}/sandboxes/${sbx.sandboxId}/pty?cols=90&rows=20`;
    await assert.rejects(
      new Promise((resolve, reject) => {
        const bad = new WebSocket(url);
        bad.on('open', resolve);
        bad.on('unexpected-response', (_req, res) => reject(new Error(String(res.statusCode))));
        bad.on('error', reject);
      }),
      /401/,
    );
    const ws = new WebSocket(url, { headers: { 'X-API-Key': s.apiKey } });
    let out = '';
    const texts: any[] = [];
    ws.on('message', (d, isBinary) => (isBinary ? (out += d.toString()) : texts.push(JSON.parse(d.toString()))));
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    await until('started', () => texts.find((t) => t.type === 'started'));
    ws.send(Buffer.from('stty size\n'));
    await until('20 90', () => /\b20 90\b/.test(out));
    ws.send(JSON.stringify({ type: 'resize', cols: 70, rows: 10 }));
    ws.send(JSON.stringify({ type: 'input', data: 'stty size; exit 2\n' }));
    const exit = await until('exit', () => texts.find((t) => t.type === 'exit'));
    assert.match(out, /\b10 70\b/);
    assert.equal(exit.exitCode, 2);
    ws.close();
  });

  it('watchDir (recursive) over envd and over the control-plane WebSocket', async () => {
    await sbx.files.makeDir('/home/user/w/sub');
    const events: WatchEvent[] = [];
    const w = await sbx.files.watchDir('/home/user/w', (e) => void events.push(e), { recursive: true });
    const ws = new WebSocket(
      `${s.url.replace('http', 'ws')}/sandboxes/${sbx.sandboxId}/files/watch?path=/home/user/w&recursive=true`,
      {
        headers: { 'X-API-Key': s.apiKey },
      },
    );
    const wsEvents: any[] = [];
    ws.on('message', (d) => wsEvents.push(JSON.parse(d.toString())));
    await until('ws watch start', () => wsEvents.find((m) => m.type === 'start'));
    await sbx.files.write('/home/user/w/sub/deep.txt', 'x');
    await sbx.files.remove('/home/user/w/sub/deep.txt');
    await until(
      'sdk events',
      () =>
        events.some((e) => e.type === 'create' && e.path === '/home/user/w/sub/deep.txt') &&
        events.some((e) => e.type === 'remove'),
    );
    await until('ws events', () =>
      wsEvents.some(
        (m) => m.type === 'event' && m.event.type === 'create' && m.event.path === '/home/user/w/sub/deep.txt',
      ),
    );
    w.stop();
    ws.close();
    // A watch on a missing path is a clear error.
    await assert.rejects(
      sbx.files.watchDir('/home/user/nope', () => {}),
      NotFoundError,
    );
  });

  it('a WebSocket server in the sandbox answers through the ingress (getHost)', async () => {
    await sbx.files.write('/tmp/ws_echo.py', WS_ECHO);
    (await sbx.commands.run('python3 /tmp/ws_echo.py', { background: true })).disconnect();
    const host = sbx.getHost(8765);
    const reply = await until('echo', async () => {
      const ws = new WebSocket(`${s.url.replace('http', 'ws')}/`, { headers: { Host: host } });
      try {
        await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
        const got = new Promise<string>((r) => ws.once('message', (d) => r(d.toString())));
        ws.send('hello');
        return await got;
      } catch {
        return undefined;
      } finally {
        ws.close();
      }
    });
    assert.equal(reply, 'echo:hello');
  });
});

describe('metrics and logs', () => {
  it('memory metrics rise under a memory-hungry process', async () => {
    const base = await until('a sample', async () => (await sbx.getMetrics()).at(-1));
    assert.ok(base.memTotal >= 2048 * 2 ** 20 - 1, 'the limit is reported');
    (
      await sbx.commands.run(
        `python3 -c "b = bytearray(300 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); open('/tmp/held', ` +
          `'w').close(); import time; time.sleep(60)"`,
        { background: true },
      )
    ).disconnect();
    await until('allocation', () => sbx.files.exists('/tmp/held'));
    const high = await until('a higher sample', async () =>
      (await sbx.getMetrics()).find((m) => m.memUsed > base.memUsed + 250 * 2 ** 20),
    );
    assert.ok(high.memUsed <= high.memTotal);
    const many = await Sandbox.getMetrics(sbx.sandboxId, { ...s.conn, start: new Date(Date.now() - 60_000) });
    assert.ok(many.length >= 2, 'a series, not just the latest sample');
    const latest = await api(s, 'GET', `/sandboxes/metrics?sandbox_ids=${sbx.sandboxId},nosuchsandbox0000000`);
    assert.equal(latest.status, 200);
    assert.ok(latest.body.sandboxes[sbx.sandboxId].memUsed > 0, 'latest sample per sandbox');
    assert.equal(latest.body.sandboxes.nosuchsandbox0000000, undefined);
  });

  it('logs carry lifecycle events', async () => {
    await sbx.setTimeout(100_000);
    const logs = await sbx.getLogs();
    assert.ok(logs.some((l) => l.level === 'info' && /sandbox created from template/.test(l.message)));
    assert.ok(logs.some((l) => /timeout set to 100000 ms/.test(l.message)));
    const created = logs.find((l) => /sandbox created/.test(l.message))!;
    assert.ok(created.timestamp instanceof Date && created.timestamp.getTime() <= Date.now());
  });

  it(
    'control-plane /metrics in Prometheus text format: ' + 'sandboxes by state, request and lifecycle latencies',
    async () => {
      const text = await (await fetch(`${s.url}/metrics`, { headers: { 'X-API-Key': s.apiKey } })).text();
      assert.match(text, /^# TYPE tensor_box_sandboxes gauge$/m);
      assert.match(text, /^tensor_box_sandboxes\{state="running"\} 1$/m);
      assert.match(text, /^tensor_box_http_request_duration_seconds_bucket\{.*le="\+Inf"\} \d+$/m);
      assert.match(text, /^tensor_box_lifecycle_operation_duration_seconds_count\{.*driver\.create.*\} [1-9]\d*$/m);
    },
  );

  it('an oversized terminal frame closes the socket instead of being buffered', async () => {
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/sandboxes/${sbx.sandboxId}/pty`, {
      headers: { 'X-API-Key': s.apiKey },
    });
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('error', () => {});
    ws.send(Buffer.alloc(2 << 20, 'a'));
    assert.equal(await closed, 1009, 'message too big');
  });

  it('a dropped terminal WebSocket frees its shell after the grace period', async () => {
    process.env.TENSOR_BOX_PTY_GRACE_MS = '300';
    try {
      const ws = new WebSocket(`${s.url.replace('http', 'ws')}/sandboxes/${sbx.sandboxId}/pty?cmd=/bin/cat`, {
        headers: { 'X-API-Key': s.apiKey },
      });
      const texts: any[] = [];
      ws.on('message', (d, isBinary) => void (isBinary || texts.push(JSON.parse(d.toString()))));
      await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
      const started = await until('started', () => texts.find((t) => t.type === 'started'));
      assert.ok(
        (await sbx.commands.list()).some((p) => p.pid === started.pid),
        'running while connected',
      );
      ws.terminate(); // dropped, not closed politely
      await until('shell gone', async () => !(await sbx.commands.list()).some((p) => p.pid === started.pid), 5000);
    } finally {
      delete process.env.TENSOR_BOX_PTY_GRACE_MS;
    }
  });

  it(
    'bad input: terminal in a missing directory, sockets to ' +
      'a paused or killed sandbox; a pause ends watches cleanly',
    async () => {
      await assert.rejects(
        sbx.pty.create({ cols: 80, rows: 24, cwd: '/no/such/dir', onData: () => {} }),
        /no\/such\/dir|not found|does not exist/i,
      );
      const other = await Sandbox.create('default', { ...s.conn, timeoutMs: 60_000 });
      const upgrade = (id: string) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(`${s.url.replace('http', 'ws')}/sandboxes/${id}/pty`, {
            headers: { 'X-API-Key': s.apiKey },
          });
          ws.on('open', () => (ws.close(), resolve(101)));
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.on('error', () => resolve(0));
        });
      try {
        let exited: Error | undefined | 'none' = 'none';
        await other.files.watchDir('/home/user', () => {}, { onExit: (err) => (exited = err) });
        // CRIU cannot save inotify watches on overlayfs: pausing ends them, and the watcher hears why through onExit.
        await other.pause();
        await until('watch ended', () => exited !== 'none');
        assert.match(String(exited), /paused; watch again after it resumes/);
        assert.equal(await upgrade(other.sandboxId), 409, 'a paused sandbox without autoResume');
        await other.kill();
        assert.equal(await upgrade(other.sandboxId), 404, 'a killed sandbox');
      } finally {
        await other.kill().catch(() => {});
      }
    },
  );
});
