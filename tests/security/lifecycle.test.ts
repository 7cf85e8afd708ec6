/**
 * Attacks on the limits a sandbox lives within: defeating its timeout from inside (a process tree the checkpoint
 * cannot save, so every auto-pause fails) and filling the host's disk. A sandbox never outlives its timeout, and no
 * start may promise more disk than the host keeps free above its reserve.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Sandbox } from 'tensor-box';
import { api, startTestServer, type TestServer } from '../helpers/harness.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

/** A child traced by its parent (PTRACE_TRACEME): CRIU cannot seize a task another tracer holds, so a dump fails. */
const TRACED_TREE = `
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
if os.fork() == 0:
    libc.ptrace(0, 0, 0, 0)
    while True: time.sleep(1)
while True: time.sleep(1)
`;

describe('lifecycle limits', () => {
  it('a sandbox whose pause keeps failing is killed at its timeout, with the reason in its logs', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 3_000, lifecycle: { onTimeout: 'pause' } });
    await sbx.files.write('/tmp/traced.py', TRACED_TREE);
    await sbx.commands.run('python3 /tmp/traced.py', { background: true });
    const started = Date.now();
    let gone = false;
    while (Date.now() - started < 60_000) {
      const rec = await s.store.getSandbox(sbx.sandboxId);
      if (!rec) {
        gone = true;
        break;
      }
      assert.notEqual(
        rec.state,
        'paused',
        'the traced tree was checkpointed after all: this attack needs another unsavable process',
      );
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(gone, 'the sandbox outlived its timeout by a minute');
    const logs = await s.store.queryLogs(sbx.sandboxId, { limit: 100, direction: 'forward' });
    assert.ok(
      logs.some((l) => /auto-pause failed .*killing/.test(l.message)),
      `no log entry says why: ${logs.map((l) => l.message).join(' | ')}`,
    );
  });

  it('the default template promises a disk the host can hold (10 GiB), not 40 GiB', async () => {
    const t = await api(s, 'GET', '/templates/default');
    assert.equal(t.status, 200);
    assert.equal(t.body.diskSizeMB, 10 * 1024);
  });

  it(
    'a start that could push the host below its free-space ' + 'reserve is refused with 507 and leaves nothing',
    async () => {
      const tight = await startTestServer({ diskReserveMB: 1024 * 1024 * 1024 });
      try {
        const r = await api(tight, 'POST', '/sandboxes', { templateID: 'default', timeout: 60 });
        assert.equal(r.status, 507);
        assert.equal(r.body.code, 507);
        assert.match(r.body.message, /reserve/);
        assert.equal((await tight.store.listSandboxes()).length, 0);
        const dir = path.join(tight.dataDir, 'sandboxes');
        assert.deepEqual(
          readdirSync(dir).filter((n) => !n.startsWith('.')),
          [],
        );
      } finally {
        await tight.close();
      }
    },
  );
});
