/**
 * Sandbox networking on the host side: address slots (each sandbox a /30 of `<prefix>.0.0/16`: host `.1`, sandbox
 * `.2` of its block), host link names (`tb<slot>`), the host firewall and forwarding (firewall.ts, installed on first
 * use), and each sandbox's egress rules (sandbox-egress.ts). The launcher makes the link itself; this module decides
 * its name and addresses and retries on another slot when another driver instance on the host took the name first.
 */
import { writeFileSync } from 'node:fs';
import { DriverError, type SandboxSpec } from '../driver.js';
import type { EgressRules } from '../egress.js';
import { ensureFirewall } from '../firewall.js';
import { Slots, type Slot } from '../link-slots.js';
import { SandboxEgress } from '../sandbox-egress.js';

export type Link = Slot;

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
  private readonly slots: Slots;
  private readonly egress: SandboxEgress;
  private firewallReady = false;
  private forwarding = false;

  constructor(private readonly o: NetworkOptions) {
    // Host ends are `tb<slot>` whatever the sandbox's internet access, so two driver instances on a host can never both
    // take a slot (the second one to make the link fails). Offline links are marked by their device group instead (the
    // launcher's OFFLINE_LINK_GROUP; firewall.ts forwards nothing from it).
    this.slots = new Slots(o.prefix, 'tb');
    this.egress = new SandboxEgress({
      dnsUpstream: o.dnsUpstream,
      log: o.log,
      onDenied: (d) => {
        const sandboxId = this.slots.owner(Number(/\d+$/.exec(d.ifname)?.[0]));
        if (sandboxId) o.onDenied?.(sandboxId, { destination: d.destination, protocol: d.protocol, port: d.port });
      },
    });
  }

  /** Marks a slot as taken by a sandbox found running (driver start, list). */
  adopt(slot: number, sandboxId: string): void {
    this.slots.hold(slot, sandboxId);
  }

  release(slot: number): void {
    this.slots.release(slot);
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
      const link = this.slots.allocate(spec.sandboxId, tried);
      tried.add(link.slot);
      try {
        return await start(link);
      } catch (err) {
        this.slots.release(link.slot);
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
