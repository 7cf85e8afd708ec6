/** Cluster node commands (admin key): `node list` (capacity, heartbeats, states), `node drain <nodeId>`. */
import { ClusterNode } from 'tensor-box';
import { table, type Ctx } from '../context.js';
import { UsageError } from '../exit-codes.js';

export const list = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length) throw new UsageError('usage: tensor-box node list [--json]');
    const nodes = await ClusterNode.list(ctx.conn);
    const rows = nodes.map((n) => [
      n.nodeID,
      n.state + (n.live ? '' : ' (no heartbeat)'),
      n.address,
      `${n.runningSandboxes}/${n.sandboxSlots}`,
      String(n.cpuCount),
      `${n.freeMemoryMB}/${n.memoryMB}`,
      n.heartbeatAt,
    ]);
    const head = ['NODE ID', 'STATE', 'ADDRESS', 'SANDBOXES', 'CPUS', 'FREE/MEMORY MB', 'HEARTBEAT'];
    ctx.out(ctx.json ? JSON.stringify(nodes, null, 2) : table([head, ...rows]));
    return 0;
  },
};

export const drain = {
  options: {} as const,
  async run(ctx: Ctx, args: string[]): Promise<number> {
    if (args.length !== 1) throw new UsageError('usage: tensor-box node drain <nodeId> [--json]');
    const n = await ClusterNode.drain(args[0], ctx.conn);
    ctx.out(ctx.json ? JSON.stringify(n, null, 2) : `${n.nodeID} is ${n.state}`);
    return 0;
  },
};
