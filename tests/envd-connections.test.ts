/**
 * The sandbox connection pools (packages/server/src/envd/connections.ts) follow the lifecycle against a real server:
 * traffic through the ingress and the control plane's own agent calls share one pool per sandbox; a pause closes its
 * sockets and the resumed sandbox is reached on new ones (never a socket to the paused processes); a kill closes them
 * all — in the pool and on the host (`ss` sees no connection to the sandbox's agent left).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Socket } from 'node:net';
import { Sandbox } from 'tensor-box';
import { sandboxConnections } from '../packages/server/src/envd/connections.js';
import { ENVD_PORT } from '../packages/server/src/constants.js';
import { startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

/** Established TCP connections from this process (the server under test) to the agent at `address`. */
function hostConnections(address: string): number {
  const args = ['-Htnp', 'state', 'established', 'dst', `${address}:${ENVD_PORT}`];
  const out = execFileSync('ss', args, { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`pid=${process.pid},`)).length;
}

describe('sandbox connections', () => {
  it('drops a sandbox pool on pause, reaches the resumed sandbox on new sockets, closes all on kill', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    const id = sbx.sandboxId;
    assert.equal((await sbx.commands.run('echo one')).stdout, 'one\n');
    const first = sandboxConnections.pooled(id);
    assert.ok(first, 'create registered the runtime');
    const before: Socket[] = sandboxConnections.sockets(id);
    assert.ok(before.length >= 1, 'the command went through the pool');
    assert.ok(hostConnections(first.address) >= 1, 'kept alive on the host');

    await sbx.pause();
    assert.equal(sandboxConnections.pooled(id), undefined, 'pause dropped the pool');
    assert.equal(sandboxConnections.sockets(id).length, 0);
    assert.ok(
      before.every((sock) => sock.destroyed),
      'every socket to the paused sandbox is closed',
    );

    await sbx.resume();
    const second = sandboxConnections.pooled(id);
    assert.ok(second, 'resume registered the restored runtime');
    assert.notEqual(second.pid, first.pid, 'a new runtime');
    assert.equal((await sbx.commands.run('echo two')).stdout, 'two\n');
    const after = sandboxConnections.sockets(id);
    assert.ok(after.length >= 1);
    assert.ok(
      after.every((sock) => !before.includes(sock)),
      'no socket of the paused runtime was reused',
    );

    await sbx.kill();
    assert.equal(sandboxConnections.pooled(id), undefined, 'kill dropped the pool');
    assert.equal(sandboxConnections.sockets(id).length, 0);
    assert.ok(
      after.every((sock) => sock.destroyed),
      'every socket to the killed sandbox is closed',
    );
    assert.equal(hostConnections(second.address), 0, 'no connection to the killed sandbox left on the host');
  });

  it('gives a stale record of a stopped runtime no pool (one-off connections instead)', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    await sbx.commands.run('true');
    const ref = sandboxConnections.pooled(sbx.sandboxId)!;
    await sbx.kill();
    assert.equal(sandboxConnections.agent(ref), false, 'a late caller does not reopen a pool to a killed sandbox');
    assert.equal(sandboxConnections.pooled(sbx.sandboxId), undefined);
  });
});
