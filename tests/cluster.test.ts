/**
 * A cluster of three nodes (tests/helpers/cluster.ts: own network and mount namespaces, one PostgreSQL, one GlusterFS
 * store mounted by each node).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'tensor-box';
import { startCluster, type Cluster } from './helpers/cluster.js';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ nodes: 3 });
});
after(async () => {
  await cluster?.close();
});

describe('a cluster of three nodes', () => {
  it('every node serves on its own address, and a sandbox paused on one node resumes on another', async () => {
    const health = await Promise.all(cluster.nodes.map((n) => fetch(`${n.url}/health`).then((r) => r.ok)));
    assert.deepEqual(health, [true, true, true]);
    // A node's first sandbox of a template copies the template's layers from the shared store to its own disk.
    const firstUse = { requestTimeoutMs: 900_000 };
    const sbx = await Sandbox.create('default', { ...cluster.conn(1), timeoutMs: 120_000, ...firstUse });
    await sbx.commands.run(
      `setsid bash -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done' >/dev/null 2>&1 &`,
    );
    await sbx.files.write('/home/user/a.txt', 'from node 2');
    await sbx.pause();
    const moved = await Sandbox.connect(sbx.sandboxId, { ...cluster.conn(2), timeoutMs: 120_000, ...firstUse });
    assert.equal(await moved.files.read('/home/user/a.txt'), 'from node 2');
    const n1 = Number((await moved.files.read('/tmp/n')).trim());
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(Number((await moved.files.read('/tmp/n')).trim()) > n1, 'the counter keeps counting after the move');
    await moved.kill();
  });
});
