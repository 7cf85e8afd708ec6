/**
 * Network slots of sandbox links, for both drivers: slot N is the /30 `<prefix>.(4N>>8).(4N&255)` with host end
 * `<linkPrefix><N>` (.1: `tb<N>` for containers, `tbm<N>` for microVMs) and the sandbox address (.2). A slot is free
 * when this driver does not hold it and no host link of that name exists (another driver instance on the host may hold
 * it; creating the link is what finally decides, so callers retry on another slot when that fails).
 */
import { existsSync } from 'node:fs';
import { DriverError } from './driver.js';

const MAX_SLOTS = 16384; // /30 blocks in a /16

/** One sandbox's link: its slot, the host end's name and address, the sandbox's address. */
export interface Slot {
  slot: number;
  hostIf: string;
  hostIp: string;
  sandboxIp: string;
}

export class Slots {
  private readonly held = new Map<number, string>();

  constructor(
    private readonly prefix: string,
    private readonly linkPrefix: string,
  ) {}

  /** Who holds the slot, if anyone. */
  owner(slot: number): string | undefined {
    return this.held.get(slot);
  }

  hold(slot: number, owner: string): void {
    this.held.set(slot, owner);
  }

  release(slot: number): void {
    this.held.delete(slot);
  }

  /** The lowest free slot not in `skip`, now held by `owner`. */
  allocate(owner: string, skip?: Set<number>): Slot {
    for (let s = 0; s < MAX_SLOTS; s++) {
      if (this.held.has(s) || skip?.has(s) || existsSync(`/sys/class/net/${this.linkPrefix}${s}`)) continue;
      this.held.set(s, owner);
      return this.link(s);
    }
    throw new DriverError('resource_exhausted', 'no free sandbox network slot');
  }

  link(slot: number): Slot {
    const base = slot * 4;
    const net = `${this.prefix}.${base >> 8}`;
    const host = base & 255;
    return { slot, hostIf: `${this.linkPrefix}${slot}`, hostIp: `${net}.${host + 1}`, sandboxIp: `${net}.${host + 2}` };
  }
}
