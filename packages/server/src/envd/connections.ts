/**
 * The control plane's connections into sandboxes: the one place that pools sockets to a sandbox, whether for its agent
 * (envd's HTTP routes and Connect-RPC, envd-client.ts, envd-rpc.ts, templates/sandbox-exec.ts) or for any port through
 * the ingress (ingress/proxy.ts). One keep-alive `http.Agent` per live sandbox runtime, keyed by sandbox ID and the
 * runtime's init pid.
 *
 * Why not fetch's or Node's global pool: they key sockets by address, and sandbox addresses are reused; a socket to
 * a sandbox that was killed or paused would be handed to the next one on that address. Here a pool lives exactly as
 * long as the runtime it reaches: the driver's lifecycle calls (driver-watch.ts) register a runtime when it starts
 * (create, restore, re-adoption) and drop its pool, closing every socket, when it stops (destroy, checkpoint, layer
 * capture).
 * A caller holding a stale record (an older pid) gets a fresh pool, and a runtime already dropped is never pooled again
 * (its callers get one-off connections), so nothing keeps sockets to a dead sandbox.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';

/** Which runtime a connection is for: what the driver reported (SandboxRuntimeInfo) or a record's `runtime`. */
export interface RuntimeRef {
  sandboxId: string;
  /** Host PID of the sandbox's init: a new one after every restore. */
  pid: number;
  /** The sandbox's address as seen from the host. */
  address: string;
  /** Base URL of the agent, `http://<address>:<ENVD_PORT>`. */
  envdUrl: string;
}

interface Pool {
  ref: RuntimeRef;
  agent: http.Agent;
  transport?: Transport;
}

/** Runtimes remembered as dropped, so a late caller does not start a new pool to a sandbox that is gone. */
const RETIRED_MAX = 4096;
/** A one-off connection per request (Node's `agent: false`), for runtimes that are not (or no longer) pooled. */
const ONE_OFF = false as const;

const runtimeKey = (r: { sandboxId: string; pid: number }) => `${r.sandboxId}#${r.pid}`;

export class SandboxConnections {
  private pools = new Map<string, Pool>();
  /**
   * Agent URL → sandbox ID of the live runtime the driver reported there (register). Only those: a pool made for a
   * caller's record could outlive its sandbox unseen and hand its sockets to the next sandbox on that address.
   */
  private byUrl = new Map<string, string>();
  private retired = new Set<string>();

  /** A runtime started (create, restore) or was found alive (re-adoption): it may be pooled from now on. */
  register(ref: RuntimeRef): void {
    this.retired.delete(runtimeKey(ref));
    const owner = this.byUrl.get(ref.envdUrl);
    if (owner !== undefined && owner !== ref.sandboxId) this.forget(owner);
    if (this.poolFor(ref)) this.byUrl.set(ref.envdUrl, ref.sandboxId);
  }

  /**
   * The runtime stopped (destroyed, checkpointed away): close every socket to it, pooled or in use, and keep no pool;
   * callers still holding its record get one-off connections. Idempotent.
   */
  forget(sandboxId: string): void {
    const pool = this.pools.get(sandboxId);
    if (!pool) return;
    this.pools.delete(sandboxId);
    if (this.byUrl.get(pool.ref.envdUrl) === sandboxId) this.byUrl.delete(pool.ref.envdUrl);
    this.retire(pool.ref);
    pool.agent.destroy();
  }

  /** Drops the pool of whichever sandbox has this address (for callers that only know the address). */
  forgetAddress(address: string): void {
    for (const [id, pool] of this.pools) if (pool.ref.address === address) this.forget(id);
  }

  /** The keep-alive agent for a sandbox's runtime (any port of it); `false` (one-off connections) once it stopped. */
  agent(ref: RuntimeRef): http.Agent | false {
    return this.poolFor(ref)?.agent ?? ONE_OFF;
  }

  /** A Connect transport to the runtime's agent over its pool. */
  transport(ref: RuntimeRef): Transport {
    const pool = this.poolFor(ref);
    if (!pool) return connectTransport(ref.envdUrl, ONE_OFF);
    pool.transport ??= connectTransport(ref.envdUrl, pool.agent);
    return pool.transport;
  }

  /** The agent for whatever live runtime answers at `envdUrl` (the driver registered it), else one-off connections. */
  agentForUrl(envdUrl: string): http.Agent | false {
    const pool = this.byUrlPool(envdUrl);
    return pool ? pool.agent : ONE_OFF;
  }

  /** A Connect transport to the agent at `envdUrl` (pooled when a live runtime is registered there). */
  transportForUrl(envdUrl: string): Transport {
    const pool = this.byUrlPool(envdUrl);
    return pool ? this.transport(pool.ref) : connectTransport(envdUrl, ONE_OFF);
  }

  /** The open sockets to a sandbox (in use and idle); none when it has no pool. For tests and metrics. */
  sockets(sandboxId: string): Socket[] {
    const agent = this.pools.get(sandboxId)?.agent;
    if (!agent) return [];
    const all = (m: NodeJS.ReadOnlyDict<Socket[]>) => Object.values(m).flatMap((l) => l ?? []);
    return [...all(agent.sockets), ...all(agent.freeSockets)];
  }

  /** The runtime a sandbox's pool is for, if it has one (for tests). */
  pooled(sandboxId: string): RuntimeRef | undefined {
    return this.pools.get(sandboxId)?.ref;
  }

  private byUrlPool(envdUrl: string): Pool | undefined {
    const id = this.byUrl.get(envdUrl);
    const pool = id === undefined ? undefined : this.pools.get(id);
    return pool?.ref.envdUrl === envdUrl ? pool : undefined;
  }

  private poolFor(ref: RuntimeRef): Pool | undefined {
    if (this.retired.has(runtimeKey(ref))) return undefined;
    const cur = this.pools.get(ref.sandboxId);
    if (cur && cur.ref.pid === ref.pid && cur.ref.address === ref.address) return cur;
    if (cur) this.forget(ref.sandboxId);
    const pool: Pool = { ref, agent: new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 }) };
    this.pools.set(ref.sandboxId, pool);
    return pool;
  }

  private retire(ref: RuntimeRef) {
    this.retired.add(runtimeKey(ref));
    if (this.retired.size > RETIRED_MAX) this.retired.delete(this.retired.values().next().value!);
  }
}

function connectTransport(baseUrl: string, agent: http.Agent | false): Transport {
  return createConnectTransport({ baseUrl, httpVersion: '1.1', useBinaryFormat: true, nodeOptions: { agent } });
}

/** The server's connections (sandbox IDs are unique across servers in one process, so one set serves them all). */
export const sandboxConnections = new SandboxConnections();
