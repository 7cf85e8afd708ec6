/**
 * The cluster's front door (cluster mode only): before a node serves a request it decides whether another node must
 * serve it, and forwards it there (forward.ts). The rules:
 *
 * - a request about a sandbox that runs (or is being resumed, paused, snapshotted, killed) on another live node goes to
 *   that node — REST, agent calls and user ports (ingress by header or host name), WebSockets, signed file URLs;
 * - a create, and a request that resumes a paused sandbox (connect, resume, traffic to an auto-resume sandbox), goes
 *   to the node placement picks (placement.ts) unless `TENSOR_BOX_PLACEMENT=local`;
 * - everything else (lists, templates, teams, a paused or lost sandbox's details) is served here, from the store.
 *
 * A forwarded request (hop.ts) is always served where it arrives: it is never forwarded again. If it should have
 * been (the sandbox moved meanwhile), the answer is a 503 saying so, never a loop. The gate looks records up
 * unscoped but reveals nothing: the owner answers as if the client had asked it, checking the client's key or token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from '../errors.js';
import { signedFilesSandbox } from '../ingress/signed-files.js';
import { REACHABLE_STATES } from '../lifecycle/states.js';
import type { NodeRecord, SandboxRecord, Store } from '../store/store.js';
import { forwardHttp, forwardUpgrade } from './forward.js';
import { RESUME_PATH } from './drain.js';
import { acceptHop } from './hop.js';
import type { Membership } from './membership.js';
import { place } from './placement.js';
import { requestTarget } from './request-target.js';

export interface GateOptions {
  store: Store;
  membership: Membership;
  secret: string;
  /** `local`: creates and resumes stay on the node asked. */
  placement: 'spread' | 'local';
  /** Resumes a paused sandbox on this node (the node-to-node resume of a drain, drain.ts). */
  resumeHere(sandboxId: string): Promise<SandboxRecord>;
}

/** A forwarding decision: to `address` (absent: served here, a start placed on this node). */
type Decision = { nodeId: string; address?: string; placed?: boolean };

export class ClusterGate {
  /** Starts this node forwarded and that have not answered yet, per node. */
  private inFlight = new Map<string, number>();

  constructor(private opts: GateOptions) {}

  private get selfId() {
    return this.opts.membership.nodeId;
  }

  /** Serves the request by forwarding it (true), or leaves it to this node (false). */
  async http(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const resume = req.method === 'POST' ? RESUME_PATH.exec(req.url ?? '') : null;
    if (resume) {
      if (!acceptHop(req, this.opts.secret)) throw new ApiError('unauthenticated', 'this route is for cluster nodes');
      const s = await this.opts.resumeHere(resume[1]);
      const body = JSON.stringify({ sandboxID: s.sandboxId, nodeID: s.nodeId });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    }
    const to = await this.decide(req);
    // A start placed by this node is counted (from placement on) until its answer is sent, so starts arriving
    // meanwhile see it.
    if (to?.placed) res.once('close', () => this.inFlight.set(to.nodeId, (this.inFlight.get(to.nodeId) ?? 1) - 1));
    if (!to?.address) return false;
    await forwardHttp(this.from(), { nodeId: to.nodeId, address: to.address }, req, res);
    return true;
  }

  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<boolean> {
    const to = await this.decide(req);
    if (!to?.address) return false;
    forwardUpgrade(this.from(), { nodeId: to.nodeId, address: to.address }, req, socket, head);
    return true;
  }

  /**
   * The node a start should land on now (this one when placement is local or no other node is better). `reserve`
   * counts the start there at once (the caller gives it back when the start answered).
   */
  async placeStart(reserve = false): Promise<NodeRecord | undefined> {
    const m = this.opts.membership;
    const live = m.nodes().filter((n) => m.isLive(n));
    const self = live.find((n) => n.nodeId === this.selfId);
    let n = this.opts.placement === 'local' && self?.state === 'alive' ? self : undefined;
    if (!n) {
      const running = new Map<string, number>();
      for (const s of await this.opts.store.listSandboxes({ states: REACHABLE_STATES })) {
        if (s.nodeId) running.set(s.nodeId, (running.get(s.nodeId) ?? 0) + 1);
      }
      n = place({ nodes: live, selfId: this.selfId, running, inFlight: this.inFlight });
    }
    if (n && reserve) this.inFlight.set(n.nodeId, (this.inFlight.get(n.nodeId) ?? 0) + 1);
    return n;
  }

  private from() {
    return { nodeId: this.selfId, secret: this.opts.secret };
  }

  /**
   * Where the request must go, or undefined: here. A start placed by this node says so (`placed`), also when it stays
   * here (no `address`).
   */
  private async decide(req: IncomingMessage): Promise<Decision | undefined> {
    const forwardedBy = acceptHop(req, this.opts.secret);
    const t = requestTarget(req);
    if (t.kind === 'none') return undefined;
    if (t.kind === 'create') return forwardedBy ? undefined : this.placed(await this.placeStart(true));
    const s =
      t.kind === 'signedFiles'
        ? await this.signedBy(t.query, req.method)
        : await this.opts.store.getSandbox(t.sandboxId);
    if (!s) return undefined;
    if (s.state === 'paused') {
      const wakes = t.kind === 'sandbox' && (t.wakes === 'always' || (t.wakes === 'autoResume' && s.autoResume));
      return wakes && !forwardedBy ? this.placed(await this.placeStart(true)) : undefined;
    }
    if (s.state === 'lost' || !s.nodeId || s.nodeId === this.selfId) return undefined;
    const owner = this.opts.membership.node(s.nodeId) ?? (await this.opts.membership.refresh(), this.owner(s));
    if (!owner || owner.state === 'dead') return undefined; // here: the answer says where it ran, or that it is lost
    if (forwardedBy) {
      throw new ApiError(
        'unavailable',
        `node '${forwardedBy}' forwarded this request for sandbox '${s.sandboxId}' here, but it runs on node ` +
          `'${s.nodeId}'; a request is forwarded at most once (it probably moved meanwhile: try again)`,
      );
    }
    return { nodeId: owner.nodeId, address: owner.address };
  }

  private owner(s: SandboxRecord): NodeRecord | undefined {
    return s.nodeId ? this.opts.membership.node(s.nodeId) : undefined;
  }

  private placed(n: NodeRecord | undefined): Decision {
    if (!n) throw new ApiError('unavailable', 'no node of the cluster takes new sandboxes now (all draining or dead)');
    return { nodeId: n.nodeId, address: n.nodeId === this.selfId ? undefined : n.address, placed: true };
  }

  /** The running sandbox (on any node) whose agent token signed a `/files` URL. */
  private async signedBy(query: URLSearchParams, method: string | undefined): Promise<SandboxRecord | undefined> {
    const running = await this.opts.store.listSandboxes({ states: REACHABLE_STATES });
    const ops: Array<'read' | 'write'> = method === 'GET' || method === 'HEAD' ? ['read'] : ['write', 'read'];
    for (const op of ops) {
      const id = signedFilesSandbox(query, op, running);
      if (id) return running.find((s) => s.sandboxId === id);
    }
    return undefined;
  }
}
