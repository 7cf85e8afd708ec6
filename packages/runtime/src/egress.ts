/**
 * Per-sandbox egress rules (E2B's `network.allowOut` / `network.denyOut`) in one nftables table, `inet
 * tensor_box_egress`:
 *
 *     chain forward (hook forward, priority filter - 10): iifname vmap @links      ← one lookup, however many sandboxes
 *     map links: "<host link>" : jump s_<link>                                      ← only sandboxes that have rules
 *     chain s_<link>: ip daddr @a_<link> accept; ip daddr @n_<link> accept; ip daddr @d_<link> drop
 *
 * `a_` holds allowOut's addresses and CIDRs, `n_` the addresses allowed host names resolved to (filled by the DNS
 * resolver with the answer's TTL, see dns-guard.ts), `d_` denyOut's. Allow wins over deny (E2B's rule), so "only these"
 * is `denyOut: ['0.0.0.0/0']` plus `allowOut`. An accept here only ends this table's say: the host firewall
 * (firewall.ts) still drops the host's networks and metadata addresses. Rules are checked on every packet, so replacing
 * them cuts open connections to newly denied addresses at once. Sandbox links carry no IPv6, so IPv6 entries are
 * accepted and have nothing to match (all IPv6 is denied anyway).
 */
import { execFile, spawn } from 'node:child_process';

const TABLE = 'inet tensor_box_egress';
/** Packet mark of DNS queries redirected to the resolver: the host firewall lets exactly these in. */
export const DNS_MARK = '0x7442';

/** Validated rules: addresses/CIDRs (IPv4 and IPv6) and host name patterns (`example.com`, `*.example.com`). */
export interface EgressRules {
  allowOut: string[];
  denyOut: string[];
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;
const V6 = /^[0-9a-fA-F:]+(?:\/(\d{1,3}))?$/;
const HOST = /^(\*\.)?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

export type EgressEntry =
  | { kind: 'v4'; cidr: string }
  | { kind: 'v6'; cidr: string }
  | { kind: 'host'; pattern: string };

/** One rule entry, or an Error naming it. Host names only in allowOut (as on E2B). */
export function parseEgressEntry(entry: unknown, list: 'allowOut' | 'denyOut'): EgressEntry {
  if (typeof entry !== 'string' || entry.length === 0 || entry.length > 253) {
    throw new Error(`network.${list}: ${JSON.stringify(entry)} is not an address, CIDR or host name`);
  }
  const v4 = V4.exec(entry);
  if (v4) {
    const octets = v4.slice(1, 5).map(Number);
    const bits = v4[5] === undefined ? 32 : Number(v4[5]);
    if (octets.some((o) => o > 255) || bits > 32)
      throw new Error(`network.${list}: '${entry}' is not a valid IPv4 address or CIDR`);
    return { kind: 'v4', cidr: `${octets.join('.')}/${bits}` };
  }
  if (entry.includes(':') && V6.test(entry)) {
    const bits = entry.includes('/') ? Number(entry.split('/')[1]) : 128;
    if (bits > 128 || !/::|^([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}/.test(entry.split('/')[0])) {
      throw new Error(`network.${list}: '${entry}' is not a valid IPv6 address or CIDR`);
    }
    return { kind: 'v6', cidr: entry };
  }
  if (list === 'allowOut' && HOST.test(entry) && /[a-zA-Z]/.test(entry))
    return { kind: 'host', pattern: entry.toLowerCase() };
  throw new Error(
    list === 'denyOut'
      ? `network.denyOut: '${entry}' is not an IP address or CIDR (host names are only allowed in allowOut)`
      : `network.allowOut: '${entry}' is not an IP address, CIDR or host name`,
  );
}

/** Validates both lists (throws an Error naming the first bad entry); the result keeps the caller's spelling. */
export function parseEgressRules(raw: { allowOut?: unknown; denyOut?: unknown }): EgressRules {
  const out: EgressRules = { allowOut: [], denyOut: [] };
  for (const list of ['allowOut', 'denyOut'] as const) {
    const v = raw[list];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) throw new Error(`network.${list} must be a list`);
    if (v.length > 1000) throw new Error(`network.${list} has more than 1000 entries`);
    for (const e of v) parseEgressEntry(e, list);
    out[list] = v as string[];
  }
  return out;
}

export const hasEgressRules = (r?: EgressRules) => !!r && (r.allowOut.length > 0 || r.denyOut.length > 0);

/** The host name patterns of allowOut (what the DNS resolver lets through). */
export function hostPatterns(r?: EgressRules): string[] {
  return (r?.allowOut ?? [])
    .map((e) => parseEgressEntry(e, 'allowOut'))
    .flatMap((e) => (e.kind === 'host' ? [e.pattern] : []));
}

/** Whether `name` (no trailing dot) matches a pattern: `example.com` exactly, `*.example.com` any subdomain. */
export function hostAllowed(name: string, patterns: string[]): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => (p.startsWith('*.') ? n.endsWith(p.slice(1)) && n.length > p.length - 1 : n === p));
}

function nft(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => reject(new Error(`nft: ${e.message} (is the nftables package installed?)`)));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft: ${err.trim() || `exit ${code}`}`))));
    child.stdin.end(script);
  });
}

const v4Of = (list: string[]) =>
  list.map((e) => parseEgressEntry(e, 'allowOut' as const)).flatMap((e) => (e.kind === 'v4' ? [e.cidr] : []));
const denyV4 = (list: string[]) =>
  list.map((e) => parseEgressEntry(e, 'denyOut')).flatMap((e) => (e.kind === 'v4' ? [e.cidr] : []));

/** The nftables side of egress rules, keyed by a sandbox's host link name. */
export class EgressFirewall {
  private ready?: Promise<void>;

  private ensureTable(): Promise<void> {
    this.ready ??= nft(
      [
        `add table ${TABLE}`,
        `add map ${TABLE} links { type ifname : verdict ; }`,
        `add chain ${TABLE} forward { type filter hook forward priority -10 ; policy accept ; }`,
        `flush chain ${TABLE} forward`,
        `add rule ${TABLE} forward iifname vmap @links`,
        `add map ${TABLE} dns_links { type ifname : verdict ; }`,
        `add chain ${TABLE} prerouting { type nat hook prerouting priority dstnat - 10 ; policy accept ; }`,
        `flush chain ${TABLE} prerouting`,
        `add rule ${TABLE} prerouting iifname vmap @dns_links`,
        '',
      ].join('\n'),
    ).catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /**
   * Installs (or replaces, atomically) the rules of link `ifname`. Empty rules remove them. With host-name patterns,
   * the link's DNS traffic (port 53, to any address) is redirected to the resolver on `dnsPort`.
   */
  async apply(ifname: string, rules: EgressRules, dnsPort?: number): Promise<void> {
    if (!hasEgressRules(rules)) return this.remove(ifname);
    await this.ensureTable();
    const allow = v4Of(rules.allowOut);
    const deny = denyV4(rules.denyOut);
    const lines = [
      `add set ${TABLE} a_${ifname} { type ipv4_addr ; flags interval ; auto-merge ; }`,
      `add set ${TABLE} d_${ifname} { type ipv4_addr ; flags interval ; auto-merge ; }`,
      `add set ${TABLE} n_${ifname} { type ipv4_addr ; flags timeout ; }`,
      `add chain ${TABLE} s_${ifname}`,
      `flush chain ${TABLE} s_${ifname}`,
      `flush set ${TABLE} a_${ifname}`,
      `flush set ${TABLE} d_${ifname}`,
      `flush set ${TABLE} n_${ifname}`,
      ...(allow.length ? [`add element ${TABLE} a_${ifname} { ${allow.join(', ')} }`] : []),
      ...(deny.length ? [`add element ${TABLE} d_${ifname} { ${deny.join(', ')} }`] : []),
      `add rule ${TABLE} s_${ifname} ip daddr @a_${ifname} accept`,
      `add rule ${TABLE} s_${ifname} ip daddr @n_${ifname} accept`,
      `add rule ${TABLE} s_${ifname} ip daddr @d_${ifname} ct state new limit rate 10/second log prefix "tensor-box ` +
        `egress ${ifname} " drop`,
      `add rule ${TABLE} s_${ifname} ip daddr @d_${ifname} drop`,
      `add element ${TABLE} links { "${ifname}" : jump s_${ifname} }`,
      `add chain ${TABLE} r_${ifname}`,
      `flush chain ${TABLE} r_${ifname}`,
      ...(hostPatterns(rules).length && dnsPort
        ? [
            `add rule ${TABLE} r_${ifname} meta nfproto ipv4 udp dport 53 meta mark set ${DNS_MARK} redirect to ` +
              `:${dnsPort}`,
            `add rule ${TABLE} r_${ifname} meta nfproto ipv4 tcp dport 53 meta mark set ${DNS_MARK} redirect to ` +
              `:${dnsPort}`,
          ]
        : []),
      `add element ${TABLE} dns_links { "${ifname}" : jump r_${ifname} }`,
      '',
    ];
    await nft(lines.join('\n'));
  }

  /** Lets the link reach `ips` for `ttlSec` (an allowed host name resolved to them). */
  async allowResolved(ifname: string, ips: string[], ttlSec: number): Promise<void> {
    const v4 = ips.filter((ip) => V4.test(ip));
    if (!v4.length) return;
    const ttl = Math.max(30, Math.min(ttlSec, 3600));
    await nft(`add element ${TABLE} n_${ifname} { ${v4.map((ip) => `${ip} timeout ${ttl}s`).join(', ')} }\n`);
  }

  /** Links that have rules in the host's table now (any process's, including ones that died without removing them). */
  async linksWithRules(): Promise<Set<string>> {
    const out = await new Promise<string>((resolve) => {
      execFile('nft', ['-j', 'list', 'map', ...TABLE.split(' '), 'links'], (err, stdout) => resolve(err ? '' : stdout));
    });
    const names = new Set<string>();
    if (!out) return names; // no table yet: nothing is stale
    for (const item of (JSON.parse(out) as { nftables: { map?: { elem?: unknown[] } }[] }).nftables) {
      for (const e of item.map?.elem ?? []) if (Array.isArray(e) && typeof e[0] === 'string') names.add(e[0]);
    }
    return names;
  }

  /** Removes the link's rules (idempotent). */
  async remove(ifname: string): Promise<void> {
    await this.ensureTable();
    const cmds = [
      `delete element ${TABLE} links { "${ifname}" }`,
      `delete element ${TABLE} dns_links { "${ifname}" }`,
      `delete chain ${TABLE} s_${ifname}`,
      `delete chain ${TABLE} r_${ifname}`,
      `delete set ${TABLE} a_${ifname}`,
      `delete set ${TABLE} d_${ifname}`,
      `delete set ${TABLE} n_${ifname}`,
    ];
    // All at once (one process; the script is one transaction) — or, when some are missing (a crash mid-apply left a
    // half-made set), each object separately, so what is there still goes.
    if (
      await nft(`${cmds.join('\n')}\n`).then(
        () => true,
        () => false,
      )
    )
      return;
    for (const cmd of cmds) await nft(`${cmd}\n`).catch(() => {});
  }
}
