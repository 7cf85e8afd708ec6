/**
 * Network slots of microVMs: slot N is the /30 `<prefix>.(4N>>8).(4N&255)` with host end `tbm<N>` (.1) and the sandbox
 * address (.2). A slot is free when this driver does not hold it and no host link of that name exists (another driver
 * instance on the host may hold it).
 */
import { existsSync } from 'node:fs';
import { DriverError } from '../driver.js';
import type { VmLink } from './vm-network.js';

const MAX_SLOTS = 16384; // /30 blocks in a /16

export interface Slot extends VmLink {
  slot: number;
}

export class Slots {
  private readonly held = new Map<number, string>();

  constructor(private readonly prefix: string) {}

  hold(slot: number, owner: string): void {
    this.held.set(slot, owner);
  }

  release(slot: number): void {
    this.held.delete(slot);
  }

  allocate(owner: string): Slot {
    for (let s = 0; s < MAX_SLOTS; s++) {
      if (this.held.has(s) || existsSync(`/sys/class/net/tbm${s}`)) continue;
      this.held.set(s, owner);
      const base = s * 4;
      const net = `${this.prefix}.${base >> 8}`;
      const host = base & 255;
      return { slot: s, hostIf: `tbm${s}`, hostIp: `${net}.${host + 1}`, sandboxIp: `${net}.${host + 2}` };
    }
    throw new DriverError('resource_exhausted', 'no free sandbox network slot');
  }
}
