/**
 * Assembles cluster mode (config.cluster, docs/cluster.md) for one node: membership (registry, heartbeats, leases),
 * the gate that forwards requests to the node that should serve them, and draining. `joinCluster` makes the pieces
 * (the gate goes into the HTTP app); `start` registers once the server listens (its address may name its port).
 */
import os from 'node:os';
import type { ClusterConfig } from '../config.js';
import { REACHABLE_STATES } from '../lifecycle/states.js';
import type { SandboxLogs } from '../services/sandbox-logs.js';
import type { SandboxRecord, Store } from '../store/store.js';
import { Drainer } from './drain.js';
import { ClusterGate } from './gate.js';
import { dropLocalCopies, settleDeadNode } from './lost.js';
import { Membership } from './membership.js';

export interface ClusterDeps {
  config: ClusterConfig;
  store: Store;
  nodeId: string;
  driver: { list(): Promise<Array<{ sandboxId: string }>>; destroy(id: string): Promise<void> };
  logs: SandboxLogs;
  resume(sandboxId: string): Promise<SandboxRecord>;
  pause(sandboxId: string, reason: string): Promise<void>;
  log(msg: string): void;
}

export interface ClusterHandle {
  gate: ClusterGate;
  membership: Membership;
  /** Registers as reachable at `listenUrl` (unless TENSOR_BOX_NODE_ADDRESS says otherwise) and starts heartbeating. */
  start(listenUrl: string): Promise<void>;
  stop(): Promise<void>;
}

/** The URL other nodes reach this one at, from the one it listens on: a wildcard host becomes the first LAN address. */
export function defaultNodeAddress(listenUrl: string): string {
  const u = new URL(listenUrl);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') {
    const lan = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    u.hostname = lan?.address ?? '127.0.0.1';
  }
  return u.origin;
}

export function joinCluster(d: ClusterDeps): ClusterHandle {
  const { config, store, nodeId } = d;
  const capacity = async () => ({
    cpuCount: os.availableParallelism(),
    memoryMB: os.totalmem() / 2 ** 20,
    freeMemoryMB: os.freemem() / 2 ** 20,
    sandboxSlots: config.sandboxSlots,
    runningSandboxes: (await store.listSandboxes({ states: REACHABLE_STATES })).filter((s) => s.nodeId === nodeId)
      .length,
  });
  const event = (id: string, message: string) => d.logs.write(id, 'error', message, { source: 'cluster' });
  let drainer: Drainer | undefined;
  const membership = new Membership({
    store,
    nodeId,
    heartbeatMs: config.heartbeatMs,
    leaseMs: config.leaseMs,
    capacity,
    log: d.log,
    onNodeDead: async (n, reason) => {
      const r = await settleDeadNode(store, n.nodeId, reason, event);
      d.log(`node ${n.nodeId}: ${r.lost.length} sandboxes lost, ${r.backToPaused.length} resumes interrupted`);
    },
    onSelfDead: async () => void (await dropLocalCopies(store, d.driver, nodeId, d.log)),
    afterBeat: (self) => {
      if (self.state === 'draining') void drainer?.pass().catch((err) => d.log(`drain: ${(err as Error).message}`));
    },
  });
  const gate = new ClusterGate({
    store,
    membership,
    secret: config.secret,
    placement: config.placement,
    resumeHere: (id) => d.resume(id),
  });
  drainer = new Drainer({
    store,
    nodeId,
    secret: config.secret,
    place: () => gate.placeStart(),
    pause: (id) => d.pause(id, 'the node is drained'),
    log: d.log,
  });
  return {
    gate,
    membership,
    start: (listenUrl) => membership.start(config.nodeAddress ?? defaultNodeAddress(listenUrl)),
    stop: () => membership.stop(),
  };
}
