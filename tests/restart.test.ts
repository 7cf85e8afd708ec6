/**
 * Control-plane restart: running sandboxes are re-adopted (still usable, same files and processes), a sandbox whose
 * runtime died meanwhile is removed, and nothing leaks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'tensor-box';
import { startTestServer } from './helpers/harness.js';

describe('server restart', () => {
  it('re-adopts running sandboxes and forgets dead ones', async () => {
    const first = await startTestServer();
    const keep = await Sandbox.create('default', { ...first.conn, timeoutMs: 120_000 });
    await keep.files.write('/home/user/state.txt', 'before restart');
    const bg = await keep.commands.run('sleep 600', { background: true });
    bg.disconnect();
    const dead = await Sandbox.create('default', { ...first.conn, timeoutMs: 120_000 });
    const deadRecord = await first.store.getSandbox(dead.sandboxId);
    await first.close({ keepDataDir: true });

    // The runtime loses one sandbox while the server is down.
    process.kill(deadRecord!.runtime!.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));

    const second = await startTestServer({}, first.dataDir);
    try {
      assert.equal(second.apiKey, first.apiKey, 'the generated key is stored and reused');
      const again = await Sandbox.connect(keep.sandboxId, second.conn);
      assert.equal(await again.files.read('/home/user/state.txt'), 'before restart');
      assert.ok(
        (await again.commands.list()).some((p) => p.pid === bg.pid),
        'background process survived',
      );
      const ids = (await Sandbox.list(second.conn)).map((s) => s.sandboxId);
      assert.deepEqual(ids, [keep.sandboxId]);
    } finally {
      await second.close();
    }
  });
});
