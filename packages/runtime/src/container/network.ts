/**
 * Sandbox networking on the host side: address slots (each sandbox a /30 of `<prefix>.0.0/16`: host `.1`, sandbox
 * `.2` of its block), host link names (`tb<slot>`), the host firewall and forwarding (firewall.ts, installed on first
 * use), and each sandbox's egress rules (sandbox-egress.ts). The launcher makes the link itself; this module decides
 * its name and addresses and retries on another slot when another driver instance on the host took the name first.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { DriverError, type SandboxSpec } from '../driver.js';
import type { EgressRules } from '../egress.js';
import { ensureFirewall } from '../firewall.js';
import { SandboxEgress } from '../sandbox-egress.js';

const MAX_SLOTS = 16384; // /30 blocks in a /16

/** One sandbox's link: its slot, the host end's name and address, the sandbox's address. */
export interface Link {
  slot: number;
  hostIf: string;
  hostIp: string;
  sandboxIp: string;
}

export interface NetworkOptions {
  /** First two octets of the sandbox address space (a /16 split into /30s). */
  prefix: string;
  egressAllowCidrs?: string[];
  dnsUpstream?: string;
  log?: (msg: string) => void;
  /** A connection a sandbox's egress rules denied. */
  onDenied?: (sandboxId: string, d: { destination: string; protocol: string; port?: number }) => void;
}

/** The launcher could not create the host interface because another sandbox (of another driver instance) has it. */
export const vethRace = (err: unknown) => /create veth/.test(String((err as Error)?.message ?? err));

export class SandboxNetwork {
  private readonly slots = new Map<number, string>();
  private readonly egress: SandboxEgress;
  private firewallReady = false;
  private forwarding = false;

  constructor(private readonly o: NetworkOptions) {
    this.egress = new SandboxEgress({
      dnsUpstream: o.dnsUpstream,
      log: o.log,
      onDenied: (d) => {
        const sandboxId = this.slots.get(Number(/\d+$/.exec(d.ifname)?.[0]));
        if (sandboxId) o.onDenied?.(sandboxId, { destination: d.destination, protocol: d.protocol, port: d.port });
      },
    });
  }

  /**
   * The host end of a slot's link: `tb<slot>` whatever the sandbox's internet access, so two driver instances on a host
   * can never both take a slot (the second `ip link add` fails). Offline links are marked by their device group instead
   * (the launcher's OFFLINE_LINK_GROUP; firewall.ts forwards nothing from it).
   */
  link(slot: number): Link {
    const base = slot * 4;
    const net = `${this.o.prefix}.${base >> 8}`;
    const fourth = base & 255;
    return { slot, hostIf: `tb${slot}`, hostIp: `${net}.${fourth + 1}`, sandboxIp: `${net}.${fourth + 2}` };
  }

  /** Marks a slot as taken by a sandbox found running (driver start, list). */
  adopt(slot: number, sandboxId: string): void {
    this.slots.set(slot, sandboxId);
  }

  release(slot: number): void {
    this.slots.delete(slot);
  }

  /**
   * Runs `start` with a free slot's link, after making sure the firewall (and forwarding, for internet access) is on.
   * When `start` fails the slot is released; when it failed because another driver instance took the link's name
   * (`vethRace`), the next free slot is tried, up to three more times.
   */
  async withLink<T>(spec: SandboxSpec, start: (link: Link) => Promise<T>): Promise<T> {
    await this.ensure(spec.internetAccess);
    const tried = new Set<number>();
    for (let attempt = 0; ; attempt++) {
      const slot = this.allocate(spec.sandboxId, tried);
      tried.add(slot);
      try {
        return await start(this.link(slot));
      } catch (err) {
        this.slots.delete(slot);
        if (attempt < 3 && vethRace(err)) continue;
        throw err;
      }
    }
  }

  /** Installs (or replaces) a sandbox's egress rules on its link. */
  applyEgress(hostIf: string, sandboxIp: string, rules: EgressRules | undefined): Promise<void> {
    return this.egress.apply(hostIf, sandboxIp, rules);
  }

  removeEgress(hostIf: string): Promise<void> {
    return this.egress.remove(hostIf);
  }

  private allocate(id: string, skip: Set<number>): number {
    for (let s = 0; s < MAX_SLOTS; s++) {
      if (this.slots.has(s) || skip.has(s)) continue;
      // Another driver instance on this host (other state dir) may hold it.
      if (existsSync(`/sys/class/net/tb${s}`)) continue;
      this.slots.set(s, id);
      return s;
    }
    throw new DriverError('resource_exhausted', 'no free sandbox network slot');
  }

  /**
   * Host firewall for sandbox links (always): sandboxes never reach each other, and the host only answers them on
   * connections the host opened. Internet access additionally turns on forwarding; masquerading is in the same rules.
   */
  private async ensure(internet: boolean): Promise<void> {
    if (!this.firewallReady) {
      try {
        await ensureFirewall({ prefix: this.o.prefix, egressAllowCidrs: this.o.egressAllowCidrs });
        this.firewallReady = true;
      } catch (err) {
        const msg = (err as Error).message;
        throw new DriverError('internal', `cannot install the sandbox firewall rules (iptables): ${msg}`);
      }
    }
    if (internet && !this.forwarding) {
      writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
      this.forwarding = true;
    }
  }
}
