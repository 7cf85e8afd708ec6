/**
 * Timeouts. Each sandbox has an inactivity timeout (`timeoutMs`); `endAt` is when the sweep acts on it. Activity
 * through the ingress (`touch`) pushes `endAt` to at least now + timeoutMs; `setTimeout` sets it outright (may
 * shorten); `refresh` and `connect` only ever extend it. The sweep (every second) kills expired running sandboxes,
 * or pauses them when they asked for it (with memory, or filesystem-only with `autoPauseMemory: false`; a pause that
 * fails twice ends in a kill: a sandbox never outlives its timeout), and deletes paused sandboxes past their retention.
 *
 * `endAt` is not a state: these writes are plain updates. The sweep only sees stable states (the store's
 * `expiredSandboxes` lists running and paused ones), and its kills and pauses are conditional like every other
 * (a sandbox a client resumed or paused meanwhile is left alone).
 */
import { ApiError } from '../errors.js';
import type { SandboxRecord } from '../store/store.js';
import type { LifecycleContext } from './context.js';

/** Expired sandboxes the sweep acts on at once. */
const SWEEP_CONCURRENCY = 16;
/** Activity writes endAt at most this often per sandbox. */
const TOUCH_INTERVAL_MS = 1000;

/** The operations expiry triggers (the service's, so their bookkeeping runs too). */
export interface ExpiryActions {
  /** False when the sandbox had left `onlyFrom` (the sweep then leaves it alone). */
  kill(sandboxId: string, reason: string, onlyFrom?: SandboxRecord['state']): Promise<boolean>;
  /** `memory` false: filesystem-only. */
  pause(sandboxId: string, reason: string, memory?: boolean): Promise<void>;
  resume(
    sandboxId: string,
    timeoutMs?: number,
    memory?: boolean,
  ): Promise<{ sandbox: SandboxRecord; resumed: boolean }>;
}

export class Expiry {
  /**
   * Last time activity pushed endAt, per sandbox: a rate limit of this process's writes (not a lock; losing it on a
   * restart only costs one extra write).
   */
  private lastTouch = new Map<string, number>();

  constructor(
    private ctx: LifecycleContext,
    private actions: ExpiryActions,
  ) {}

  /** Activity seen (ingress traffic): pushes endAt to at least now + timeout, writing at most once a second. */
  async touch(s: SandboxRecord): Promise<void> {
    const now = Date.now();
    if (now - (this.lastTouch.get(s.sandboxId) ?? 0) < TOUCH_INTERVAL_MS) return;
    this.lastTouch.set(s.sandboxId, now);
    if (now + s.timeoutMs > s.endAt) await this.ctx.store.updateSandbox(s.sandboxId, { endAt: now + s.timeoutMs });
  }

  forget(sandboxId: string): void {
    this.lastTouch.delete(sandboxId);
  }

  async setTimeout(sandboxId: string, timeoutMs: number): Promise<void> {
    await this.ctx.get(sandboxId);
    await this.ctx.store.updateSandbox(sandboxId, { timeoutMs, endAt: Date.now() + timeoutMs });
    this.ctx.event(sandboxId, 'debug', `timeout set to ${timeoutMs} ms`);
  }

  async refresh(sandboxId: string, durationMs?: number): Promise<void> {
    const s = await this.ctx.get(sandboxId);
    const endAt = Math.max(s.endAt, Date.now() + (durationMs ?? s.timeoutMs));
    await this.ctx.store.updateSandbox(sandboxId, { endAt });
  }

  /** Connects to a sandbox: extends its timeout; a paused sandbox (or one being paused) is resumed (`resumed`). */
  async connect(
    sandboxId: string,
    timeoutMs?: number,
    memory?: boolean,
  ): Promise<{ resumed: boolean; sandbox: SandboxRecord }> {
    const s = await this.ctx.get(sandboxId);
    // Running, or being snapshotted (it keeps running): only the timeout moves, at once.
    if (s.state !== 'running' && s.state !== 'snapshotting') {
      // Paused, or being paused or resumed or killed: resume waits for that to settle and resumes if it ends paused.
      return this.actions.resume(sandboxId, timeoutMs, memory);
    }
    const endAt = Math.max(s.endAt, Date.now() + (timeoutMs ?? s.timeoutMs));
    await this.ctx.store.updateSandbox(sandboxId, { endAt });
    return { resumed: false, sandbox: { ...s, endAt } };
  }

  /**
   * One pass of the sweep: acts on every sandbox of this node past its end, up to SWEEP_CONCURRENCY at once, so
   * many timeouts at the same moment all fire within a sweep or two.
   */
  async sweep(now = Date.now()): Promise<void> {
    // Running sandboxes of other nodes are skipped: their node times them out.
    const due = (await this.ctx.store.expiredSandboxes(now)).filter((s) => this.ctx.isMine(s));
    let next = 0;
    const worker = async () => {
      while (next < due.length) await this.expire(due[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, due.length) }, worker));
  }

  private async expire(s: SandboxRecord): Promise<void> {
    const id = s.sandboxId;
    const failed = (what: string) => (err: Error) => this.ctx.log(`${what} of ${id} failed: ${err.message}`);
    if (s.state === 'paused') {
      this.ctx.event(id, 'info', 'paused sandbox reached its retention period; deleting it');
      await this.actions.kill(id, 'retention', 'paused').catch(failed('delete'));
      return;
    }
    this.ctx.event(id, 'warn', `sandbox timed out after ${s.timeoutMs} ms of inactivity (onTimeout=${s.onTimeout})`);
    if (s.onTimeout === 'pause') {
      // A sandbox never outlives its timeout: a pause that fails twice (e.g. its processes defeat the checkpoint)
      // ends in a kill, with the reason in its logs.
      let why = '';
      for (let attempt = 0; attempt < 2; attempt++) {
        // E2B's autoPauseMemory: false makes the timeout's pause filesystem-only.
        const err = await this.actions.pause(id, 'timeout', s.autoPauseMemory !== false).then(
          () => undefined,
          (e: Error) => e,
        );
        // Done, or someone else acted first (a client paused or snapshotted it): the next sweep looks again.
        if (!err || (err instanceof ApiError && err.kind === 'conflict')) return;
        why = err.message;
        this.ctx.log(`auto-pause of ${id} failed (attempt ${attempt + 1}): ${why}`);
      }
      this.ctx.event(id, 'error', `auto-pause failed (${why}); killing the sandbox at its timeout instead`);
      await this.actions.kill(id, 'timeout (pause failed)', 'running').catch(failed('kill'));
      return;
    }
    await this.actions.kill(id, 'timeout', 'running').catch(failed('kill'));
  }
}
