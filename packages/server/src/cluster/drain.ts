/**
 * Draining, on the drained node itself (a node in state `draining`, see node-service.ts): it takes no new sandboxes
 * (placement skips it) and moves its running ones, one at a time, to the node placement picks: pause here (the image
 * goes to the shared store), then ask that node to resume it (`POST /cluster/v1/sandboxes/{id}/resume`, node to node,
 * with the cluster secret). Processes and memory survive; a client sees a pause of a few seconds, and its requests
 * follow the sandbox (forwarding). If no other node takes sandboxes, nothing moves. If the other node fails to
 * resume, the sandbox stays paused (resumable anywhere) and the failure is logged.
 */
import http from 'node:http';
import type { SandboxRecord, Store } from '../store/store.js';
import type { ForwardTarget } from './forward.js';
import { hopHeaders } from './hop.js';

export interface DrainOptions {
  store: Store;
  nodeId: string;
  secret: string;
  place(): Promise<ForwardTarget | undefined>;
  pause(sandboxId: string): Promise<void>;
  log(msg: string): void;
}

/** The node-to-node resume route (gate.ts serves it). */
export const RESUME_PATH = /^\/cluster\/v1\/sandboxes\/([a-z][a-z0-9]+)\/resume$/;

/** Asks `to` to resume a paused sandbox there; resolves with the node that runs it. */
export function resumeOn(from: { nodeId: string; secret: string }, to: ForwardTarget, sandboxId: string) {
  const url = new URL(`/cluster/v1/sandboxes/${sandboxId}/resume`, to.address);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: hopHeaders(from.nodeId, from.secret) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export class Drainer {
  private busy = false;

  constructor(private opts: DrainOptions) {}

  /** One pass (called after each heartbeat while this node is draining): moves every sandbox it can. */
  async pass(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const mine = (await this.opts.store.listSandboxes({ states: ['running'] })).filter(
        (s) => s.nodeId === this.opts.nodeId,
      );
      for (const s of mine) await this.move(s);
    } finally {
      this.busy = false;
    }
  }

  private async move(s: SandboxRecord): Promise<void> {
    const to = await this.opts.place();
    if (!to || to.nodeId === this.opts.nodeId) return void this.opts.log(`drain: no other node takes ${s.sandboxId}`);
    try {
      await this.opts.pause(s.sandboxId);
    } catch (err) {
      return void this.opts.log(`drain: pausing ${s.sandboxId} failed: ${(err as Error).message}`);
    }
    const r = await resumeOn(this.opts, to, s.sandboxId).catch((err: Error) => ({ status: 0, body: err.message }));
    if (r.status === 200) this.opts.log(`drain: sandbox ${s.sandboxId} moved to ${to.nodeId}`);
    else this.opts.log(`drain: ${to.nodeId} did not resume ${s.sandboxId} (${r.status} ${r.body}); it stays paused`);
  }
}
