/**
 * This node's membership of the cluster: it registers (ID, internal address, capacity) in the store's `nodes` table,
 * heartbeats every `heartbeatMs`, and on every beat checks the other nodes' leases: a node whose last heartbeat (on the
 * database's clock) is older than `leaseMs` is declared dead with a conditional write — whichever live node gets
 * there first; the others' writes change nothing — and that one node runs `onNodeDead` (its running sandboxes become
 * `lost`). A node that finds itself declared dead (it was cut off, or stalled, past its lease) runs `onSelfDead`
 * (gives up the local copies of sandboxes that are no longer its) and registers again.
 *
 * Keeps the last list of nodes it read for forwarding and placement (at most one beat old); `refresh` reads it anew.
 */
import type { NodeCapacity, NodeRecord, NodeRepository } from '../store/store.js';

export interface MembershipOptions {
  store: NodeRepository;
  nodeId: string;
  heartbeatMs: number;
  leaseMs: number;
  capacity(): Promise<NodeCapacity>;
  onNodeDead(node: NodeRecord, reason: string): Promise<void>;
  onSelfDead(): Promise<void>;
  /** After each beat, with this node's record (e.g. to drain). */
  afterBeat?(self: NodeRecord): void;
  log(msg: string): void;
}

export class Membership {
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private known: NodeRecord[] = [];
  private stopped = false;
  private address = '';
  /** Dead nodes this node declared whose clean-up has not succeeded yet (retried every beat). */
  private cleanups = new Map<string, { node: NodeRecord; reason: string }>();

  constructor(private opts: MembershipOptions) {}

  get nodeId(): string {
    return this.opts.nodeId;
  }

  get leaseMs(): number {
    return this.opts.leaseMs;
  }

  /** Registers at `address` (the URL other nodes reach this one at) and starts heartbeating. */
  async start(address: string): Promise<void> {
    this.address = address;
    await this.opts.store.registerNode(this.opts.nodeId, address, await this.opts.capacity());
    await this.refresh();
    this.timer = setInterval(() => {
      this.beating ??= this.beat()
        .catch((err) => this.opts.log(`cluster heartbeat failed: ${(err as Error).message}`))
        .finally(() => (this.beating = undefined));
    }, this.opts.heartbeatMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.beating;
  }

  /** The nodes as last read (every beat). */
  nodes(): NodeRecord[] {
    return this.known;
  }

  node(nodeId: string): NodeRecord | undefined {
    return this.known.find((n) => n.nodeId === nodeId);
  }

  /** Whether a node heartbeated within its lease (as last read) and was not declared dead. */
  isLive(n: NodeRecord): boolean {
    return n.state !== 'dead' && n.nowMs - n.heartbeatAt <= this.opts.leaseMs;
  }

  async refresh(): Promise<NodeRecord[]> {
    this.known = await this.opts.store.listNodes();
    return this.known;
  }

  /** One beat: heartbeat (or recover from having been declared dead), then the other nodes' leases. */
  async beat(): Promise<void> {
    if (this.stopped) return;
    const { store, nodeId } = this.opts;
    let me = await store.heartbeatNode(nodeId, await this.opts.capacity());
    if (!me) {
      this.opts.log(`this node (${nodeId}) was declared dead by the cluster; cleaning up, then registering again`);
      await this.opts.onSelfDead();
      me = await store.registerNode(nodeId, this.address, await this.opts.capacity());
    }
    for (const n of await this.refresh()) {
      if (n.nodeId === nodeId || n.state === 'dead' || n.nowMs - n.heartbeatAt <= this.opts.leaseMs) continue;
      const age = n.nowMs - n.heartbeatAt;
      const reason =
        `node '${n.nodeId}' missed its lease (no heartbeat for ${age} ms, lease ${this.opts.leaseMs} ms); ` +
        `declared dead by '${nodeId}' at ${new Date(n.nowMs).toISOString()}`;
      if (!(await store.declareNodeDead(n.nodeId, this.opts.leaseMs, reason))) continue; // another node was first
      this.opts.log(reason);
      this.cleanups.set(n.nodeId, { node: n, reason });
    }
    for (const [id, { node, reason }] of this.cleanups) {
      try {
        await this.opts.onNodeDead(node, reason);
        this.cleanups.delete(id);
      } catch (err) {
        this.opts.log(`cleaning up after dead node ${id} failed (retrying): ${(err as Error).message}`);
      }
    }
    this.opts.afterBeat?.(me);
  }
}
