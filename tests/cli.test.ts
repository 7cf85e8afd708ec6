/** The `tensor-box` CLI as a user runs it: real processes, real server, stdout/stderr and exit codes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { run, startTestServer, type TestServer } from './helpers/harness.js';
import { CLI_BIN as BIN, cliFor } from './helpers/cli.js';
import { spawn } from 'node:child_process';

let s: TestServer;
const cli = cliFor(() => s);

before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

describe('tensor-box CLI', async () => {
  it('create --json, list, connect/info, exec, kill', async () => {
    const created = await cli([
      'sandbox',
      'create',
      'default',
      '--timeout-ms',
      '60000',
      '--env',
      'API_TOKEN=xxx',
      '--metadata',
      'userId=123',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const info = JSON.parse(created.stdout);
    assert.match(info.sandboxId, /^[a-z][a-z0-9]{19}$/);
    assert.deepEqual(info.metadata, { userId: '123' });
    const id = info.sandboxId;

    const list = await cli(['sbx', 'ls', '--state', 'running', '--metadata', 'userId=123', '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      JSON.parse(list.stdout).map((x: any) => x.sandboxId),
      [id],
    );
    const filtered = async (...flags: string[]) => {
      const r = await cli(['sandbox', 'list', '--metadata', 'userId=123', '--json', ...flags]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout).map((x: any) => x.sandboxId);
    };
    assert.deepEqual(await filtered('--template', 'base', '--order', 'asc', '--started-after', info.startedAt), [id]);
    assert.deepEqual(await filtered('--template', 'no-such-template'), []);
    assert.deepEqual(await filtered('--started-after', new Date(Date.now() + 60_000).toISOString()), []);
    const badOrder = await cli(['sandbox', 'list', '--order', 'sideways']);
    assert.equal(badOrder.code, 2);
    assert.match(badOrder.stderr, /--order must be asc or desc/);
    const table = await cli(['sandbox', 'list']);
    assert.match(table.stdout, new RegExp(`${id}\\s+default\\s+running`));

    const shown = await cli(['sandbox', 'info', id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /state\s+running/);

    const ran = await cli(['sandbox', 'exec', id, '--', 'sh', '-c', 'echo $API_TOKEN; echo oops >&2; exit 4']);
    assert.equal(ran.code, 4);
    assert.equal(ran.stdout, 'xxx\n');
    assert.equal(ran.stderr, 'oops\n');
    const ok = await cli(['sandbox', 'exec', id, '--', 'echo hello world']);
    assert.equal(ok.stdout, 'hello world\n');
    assert.equal(ok.code, 0);

    const killed = await cli(['sandbox', 'kill', id]);
    assert.equal(killed.code, 0, killed.stderr);
    const again = await cli(['sandbox', 'kill', id]);
    assert.equal(again.code, 3);
    assert.match(again.stderr, /not found/);
  });

  it('pause, info --no-resume (stays paused), info (an alias of connect: resumes), resume', async () => {
    const created = await cli(['sbx', 'create', '--timeout-ms', '60000', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const id = JSON.parse(created.stdout).sandboxId;
    try {
      assert.equal((await cli(['sandbox', 'exec', id, '--', 'echo kept > /tmp/f'])).code, 0);
      const paused = await cli(['sandbox', 'pause', id]);
      assert.equal(paused.code, 0, paused.stderr);
      assert.match((await cli(['sandbox', 'info', id, '--no-resume'])).stdout, /state\s+paused/);
      const again = await cli(['sandbox', 'pause', id]);
      assert.equal(again.code, 6, 'pausing a paused sandbox is a conflict');
      assert.match((await cli(['sandbox', 'info', id])).stdout, /state\s+running/, 'info is connect: it resumes');
      assert.equal((await cli(['sandbox', 'exec', id, '--', 'cat /tmp/f'])).stdout, 'kept\n');
      assert.equal((await cli(['sandbox', 'pause', id])).code, 0);
      const resumed = await cli(['sandbox', 'resume', id, '--timeout-ms', '30000']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal((await cli(['sandbox', 'exec', id, '--', 'cat /tmp/f'])).stdout, 'kept\n');
      assert.equal((await cli(['sandbox', 'resume', id, '--timeout-ms', 'soon'])).code, 2);

      const snap = await cli(['sandbox', 'snapshot', id, '--name', 'cli-snap']);
      assert.equal(snap.code, 0, snap.stderr);
      const snapId = snap.stdout.trim();
      assert.match(snapId, /^snap[a-z0-9]+$/);
      assert.match(
        (await cli(['snapshot', 'list', '--sandbox-id', id])).stdout,
        new RegExp(`${snapId}\\s+${id}\\s+cli-snap`),
      );
      const forked = await cli(['sandbox', 'fork', id, '--count', '1', '--json']);
      assert.equal(forked.code, 0, forked.stderr);
      const [copy] = JSON.parse(forked.stdout);
      assert.equal((await cli(['sandbox', 'exec', copy.sandboxId, '--', 'cat /tmp/f'])).stdout, 'kept\n');
      await cli(['sandbox', 'kill', copy.sandboxId]);
      assert.equal((await cli(['sandbox', 'fork', id, '--count', 'many'])).code, 2);
    } finally {
      await cli(['sandbox', 'kill', id]);
    }
  });

  it('pause --filesystem-only and resume --reboot: files kept, processes gone; create --filesystem-only', async () => {
    const created = await cli(['sbx', 'create', '--timeout-ms', '60000', '--json']);
    const id = JSON.parse(created.stdout).sandboxId;
    try {
      const sleepers = async () =>
        (await cli(['sandbox', 'exec', id, '--', 'pgrep -c -f "sleep 10000[0]" || true'])).stdout;
      await cli(['sandbox', 'exec', id, '--', 'echo kept > /home/user/f; (setsid sleep 100000 &)']);
      assert.equal(await sleepers(), '1\n');
      const paused = await cli(['sandbox', 'pause', id, '--filesystem-only']);
      assert.equal(paused.code, 0, paused.stderr);
      assert.match(paused.stderr, /filesystem only/);
      assert.equal((await cli(['sandbox', 'resume', id])).code, 0);
      assert.equal((await cli(['sandbox', 'exec', id, '--', 'cat /home/user/f'])).stdout, 'kept\n');
      assert.equal(await sleepers(), '0\n', 'the processes ended');
      await cli(['sandbox', 'exec', id, '--', '(setsid sleep 100000 &)']);
      assert.equal(await sleepers(), '1\n');
      assert.equal((await cli(['sandbox', 'pause', id])).code, 0);
      assert.equal((await cli(['sandbox', 'resume', id, '--reboot'])).code, 0);
      assert.equal(await sleepers(), '0\n', 'a reboot does not restore the memory');
      const bad = await cli(['sbx', 'create', '--filesystem-only']);
      assert.equal(bad.code, 2, 'needs --on-timeout pause');
      const fs = await cli(['sbx', 'create', '--on-timeout', 'pause', '--filesystem-only', '--json']);
      assert.equal(fs.code, 0, fs.stderr);
      const fsId = JSON.parse(fs.stdout).sandboxId;
      assert.equal((await s.store.getSandbox(fsId))?.autoPauseMemory, false);
      await cli(['sandbox', 'kill', fsId]);
    } finally {
      await cli(['sandbox', 'kill', id]);
    }
  });

  it('logs and metrics, once and --follow until the sandbox is gone', async () => {
    const created = await cli(['sbx', 'create', '--timeout-ms', '60000', '--json']);
    const id = JSON.parse(created.stdout).sandboxId;
    const follow = spawn(process.execPath, [BIN, 'sandbox', 'logs', id, '--follow'], {
      env: { ...process.env, TENSOR_BOX_DOMAIN: s.url, TENSOR_BOX_API_KEY: s.apiKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let followed = '';
    follow.stdout.setEncoding('utf8').on('data', (d) => (followed += d));
    const followEnd = new Promise<number | null>((resolve) => follow.on('close', resolve));
    try {
      const logs = await cli(['sandbox', 'logs', id]);
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, /info\s+sandbox created from template/);
      const metrics = await cli(['sandbox', 'metrics', id]);
      assert.equal(metrics.code, 0, metrics.stderr);
      assert.match(metrics.stdout, /^TIMESTAMP.*CPU%.*MEMORY.*DISK\n\S+Z\s+[\d.]+\s+2\s+\d+ MiB \/ 2048 MiB/);
      const json = await cli(['sandbox', 'metrics', id, '--json']);
      assert.ok(JSON.parse(json.stdout.split('\n')[0]).memTotal > 0);
      assert.equal((await cli(['sandbox', 'logs', id, '--level', 'loud'])).code, 2);
      await cli(['sandbox', 'pause', id]);
      for (let i = 0; i < 50 && !/sandbox paused/.test(followed); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(followed, /sandbox created[\s\S]*sandbox paused/, '--follow prints new entries as they come');
    } finally {
      await cli(['sandbox', 'kill', id]);
    }
    const code = await Promise.race([followEnd, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    follow.kill();
    assert.equal(code, 0, '--follow ends by itself when the sandbox is gone');
  });

  it(
    'terminal: an interactive shell driven through tmux ' + 'as a person would (size, resize, exit status, Ctrl-D)',
    async () => {
      const created = await cli(['sbx', 'create', '--timeout-ms', '60000', '--json']);
      const id = JSON.parse(created.stdout).sandboxId;
      const session = `tb${process.pid}`;
      const exitFile = `/tmp/${session}.exit`;
      const tmux = (...a: string[]) => run('tmux', a);
      const screen = () => tmux('capture-pane', '-p', '-t', session);
      const waitScreen = async (re: RegExp) => {
        for (let i = 0; i < 100; i++) {
          const text = await screen();
          if (re.test(text)) return text;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.fail(`screen never matched ${re}:\n${await screen()}`);
      };
      const start = async () => {
        await run('rm', ['-f', exitFile]);
        const cmd =
          `env TENSOR_BOX_DOMAIN=${s.url} TENSOR_BOX_API_KEY=${s.apiKey} ${process.execPath} ${BIN} sandbox ` +
          `terminal ${id}; echo "EXIT=$?" > ${exitFile}; sleep 30`;
        await tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', cmd);
        await waitScreen(/user@.*\$\s*$/m); // capture-pane drops the trailing space
      };
      const exitStatus = async () => {
        for (let i = 0; i < 100; i++) {
          const t = await run('cat', [exitFile]).catch(() => '');
          if (t) return t.trim();
          await new Promise((r) => setTimeout(r, 100));
        }
        return 'no exit file';
      };
      try {
        await start();
        await tmux('send-keys', '-t', session, 'stty size', 'Enter');
        await waitScreen(/^30 100$/m);
        await tmux('resize-window', '-t', session, '-x', '120', '-y', '40');
        await tmux('send-keys', '-t', session, 'clear; stty size', 'Enter');
        await waitScreen(/^40 120$/m);
        await tmux('send-keys', '-t', session, 'echo hello-$((6*7))', 'Enter');
        await waitScreen(/^hello-42$/m);
        await tmux('send-keys', '-t', session, 'exit 3', 'Enter');
        assert.equal(await exitStatus(), 'EXIT=3', "the shell's exit status passes through");
        await tmux('kill-session', '-t', session);

        await start();
        await tmux('send-keys', '-t', session, 'C-d');
        assert.equal(await exitStatus(), 'EXIT=0', 'Ctrl-D ends the shell');
        // The local terminal is back to normal (cooked mode echoes what is typed).
        await tmux('send-keys', '-t', session, 'C-c');
      } finally {
        await tmux('kill-session', '-t', session).catch(() => {});
        await cli(['sandbox', 'kill', id]);
      }
    },
  );

  it('maps errors to exit codes and messages without stack traces', async () => {
    const nf = await cli(['sandbox', 'connect', 'nosuchsandbox0000000']);
    assert.equal(nf.code, 3);
    assert.match(nf.stderr, /^tensor-box: .*not found/);
    assert.doesNotMatch(nf.stderr, /\n\s+at /);
    const auth = await cli(['sandbox', 'list'], { TENSOR_BOX_API_KEY: 'e2b_' + '1'.repeat(32) });
    assert.equal(auth.code, 4);
    const flag = await cli(['sandbox', 'list', '--api-key', 'e2b_' + '2'.repeat(32)]);
    assert.equal(flag.code, 4, 'the --api-key flag wins over the env var');
    const usage = await cli(['sandbox', 'create', '--timeout-ms', 'soon']);
    assert.equal(usage.code, 2);
    const unknown = await cli(['sandbox', 'frobnicate']);
    assert.equal(unknown.code, 2);
    const tpl = await cli(['sandbox', 'create', 'no-such-template']);
    assert.equal(tpl.code, 3);
  });
});
