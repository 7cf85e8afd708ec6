/**
 * What both drivers record of a running sandbox in its `meta.json` (each adds its own fields): who it is, the network
 * slot and host link it holds, its main process on the host (init, or QEMU), when it started and the spec it runs.
 */
import type { SandboxSpec } from './driver.js';

export interface SandboxRecord {
  sandboxId: string;
  slot: number;
  pid: number;
  address: string;
  hostIf: string;
  startedAt: string;
  spec: SandboxSpec;
}
