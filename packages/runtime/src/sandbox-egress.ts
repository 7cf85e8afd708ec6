/**
 * Egress rules of a driver's sandboxes: the nftables side (egress.ts) and, for sandboxes with host-name rules, the
 * resolver (dns-guard.ts), started on first need. Keyed by host link name; remembers which links have rules so a
 * sandbox without any costs nothing (no nft call on create or destroy).
 */
import { DnsGuard, type DnsClient } from './dns-guard.js';
import { EgressFirewall, hasEgressRules, hostPatterns, type EgressRules } from './egress.js';
import { EgressLogReader, type DeniedConnection } from './egress-log.js';

export class SandboxEgress {
  private readonly firewall = new EgressFirewall();
  /** Links with rules: their sandbox address and what the resolver needs. */
  private readonly links = new Map<string, { address: string; client: DnsClient }>();
  private guard?: Promise<DnsGuard>;
  /**
   * Links whose rules were in the host's table when this process first looked: a process that died (or a create that
   * lost a race for the name) can leave them. A link of ours found there has its stale rules replaced or removed.
   */
  private stale?: Promise<Set<string>>;
  private readonly denials: EgressLogReader;

  constructor(
    private readonly opts: {
      dnsUpstream?: string;
      log?: (msg: string) => void;
      /** A connection a link's rules denied (from the kernel log; rate-limited there). */
      onDenied?: (d: DeniedConnection) => void;
    } = {},
  ) {
    this.denials = new EgressLogReader((d) => {
      if (this.links.has(d.ifname)) this.opts.onDenied?.(d);
    });
  }

  private dns(): Promise<DnsGuard> {
    this.guard ??= (async () => {
      const g = new DnsGuard({
        upstream: this.opts.dnsUpstream,
        log: this.opts.log,
        lookup: (address) => [...this.links.values()].find((l) => l.address === address)?.client,
        allow: (ifname, ips, ttl) => this.firewall.allowResolved(ifname, ips, ttl),
      });
      await g.start();
      return g;
    })().catch((err) => {
      this.guard = undefined;
      throw err;
    });
    return this.guard;
  }

  /** Puts `rules` in force for the link (before its first packet when called before launch). */
  async apply(ifname: string, address: string, rules?: EgressRules): Promise<void> {
    this.stale ??= this.firewall.linksWithRules().catch(() => new Set<string>());
    const stale = await this.stale;
    if (!hasEgressRules(rules)) {
      if (this.links.has(ifname)) await this.remove(ifname);
      else if (stale.has(ifname)) await this.firewall.remove(ifname);
      stale.delete(ifname);
      return;
    }
    stale.delete(ifname);
    const patterns = hostPatterns(rules);
    const port = patterns.length ? (await this.dns()).port : undefined;
    const strict = rules!.denyOut.some((d) => /^0\.0\.0\.0\/0$/.test(d.trim()));
    this.links.set(ifname, { address, client: { ifname, patterns, strict } });
    if (this.opts.onDenied) this.denials.start();
    try {
      await this.firewall.apply(ifname, rules!, port);
    } catch (err) {
      this.links.delete(ifname);
      throw err;
    }
  }

  /** Removes the link's rules, if it has any. */
  async remove(ifname: string): Promise<void> {
    if (!this.links.has(ifname)) return;
    this.links.delete(ifname);
    if (this.links.size === 0) this.denials.stop();
    await this.firewall.remove(ifname);
  }

  stop(): void {
    this.denials.stop();
    void this.guard?.then((g) => g.stop());
  }
}
