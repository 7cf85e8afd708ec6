/**
 * Host firewall for sandbox links. Every sandbox's host-side interface is `tb<slot>`; offline sandboxes' links are in
 * device group OFFLINE_LINK_GROUP. The rules key on the name prefix and the group only, so they are installed once per
 * host, not per sandbox.
 *
 * IPv4 (iptables):
 * - raw PREROUTING: a packet from a sandbox link whose source address would not be routed back out of that same link
 *   is dropped (strict reverse-path filter: only a sandbox's own address may leave its interface — no spoofing
 *   another sandbox, the host or the outside).
 * - INPUT from a sandbox: only replies to connections the host opened (a sandbox cannot reach the API or host
 *   services), and DNS queries egress.ts redirected to the egress resolver (marked).
 * - FORWARD from a sandbox: never to another sandbox link; never from an offline link (device group), even with
 *   hand-made raw packets; otherwise through TENSOR-BOX-EGRESS, which drops link-local (cloud metadata), loopback,
 *   multicast, reserved and the host's own networks unless a CIDR is in the allow list (`egressAllowCidrs`).
 * - POSTROUTING: masquerade the sandbox range to the outside.
 * IPv6 (ip6tables): nothing from or to a sandbox link (sandbox links carry no IPv6; the launcher also turns IPv6 off on
 * both ends of the veth).
 *
 * Installation is idempotent; the egress chain is replaced atomically (iptables-restore --noflush) each time a driver
 * starts, since the host's networks may have changed.
 */
import { execFile, spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { DNS_MARK } from './egress.js';

const execFileP = promisify(execFile);

/** Device group of offline sandboxes' host links (set by the launcher when it makes the link; must match native/launch.h). */
export const OFFLINE_LINK_GROUP = 29762;

/** Destinations a sandbox never reaches by default (besides the host's own networks). */
export const BLOCKED_EGRESS_CIDRS = [
  '0.0.0.0/8', // "this" network
  '127.0.0.0/8', // loopback (route_localnet tricks)
  '169.254.0.0/16', // link-local: cloud metadata services
  '100.64.0.0/10', // carrier-grade NAT: often a provider's internal network
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, broadcast
];

export interface FirewallOptions {
  /** First two octets of the sandbox address space (`10.13` → 10.13.0.0/16). */
  prefix: string;
  /** CIDRs sandboxes may reach although they are blocked by default (e.g. an internal package mirror). */
  egressAllowCidrs?: string[];
}

/** The IPv4 networks of the host's own interfaces (not sandbox links, not loopback). */
export function hostNetworks(): string[] {
  const out = new Set<string>();
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name.startsWith('tb') || name === 'lo') continue;
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal || !a.cidr) continue;
      out.add(networkOf(a.cidr));
    }
  }
  return [...out].sort();
}

/** `192.168.1.17/24` → `192.168.1.0/24`. */
export function networkOf(cidr: string): string {
  const [ip, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const n = ip.split('.').reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${bits}`;
}

const CIDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(\d|[12]\d|3[0-2]))?$/;

/** Validates an IPv4 CIDR or address from configuration; throws with the entry named. */
export function parseCidr(entry: string): string {
  const m = CIDR_RE.exec(entry.trim());
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255)) throw new Error(`invalid IPv4 CIDR '${entry}'`);
  return m[5] ? entry.trim() : `${entry.trim()}/32`;
}

async function ensureRule(bin: string, table: string, chain: string, rule: string[]): Promise<void> {
  try {
    await execFileP(bin, ['-w', '-t', table, '-C', chain, ...rule]);
  } catch {
    await execFileP(bin, ['-w', '-t', table, '-A', chain, ...rule]);
  }
}

function restoreNoFlush(bin: string, input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(`${bin}-restore`, ['-w', '--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(err.trim() || `${bin} exited ${code}`))));
    child.stdin.end(input);
  });
}

/** The egress chain's rules, in order (exported for tests and docs). */
export function egressRules(blocked: string[], allowed: string[]): string[] {
  return [
    ...allowed.map((c) => `-A TENSOR-BOX-EGRESS -d ${c} -j RETURN`),
    ...blocked.map((c) => `-A TENSOR-BOX-EGRESS -d ${c} -j DROP`),
  ];
}

/** Idempotently installs the host firewall for sandbox links (needs iptables; ip6tables when the host has IPv6). */
export async function ensureFirewall(opts: FirewallOptions): Promise<void> {
  const subnet = `${opts.prefix}.0.0/16`;
  const allowed = (opts.egressAllowCidrs ?? []).map(parseCidr);
  const blocked = [...BLOCKED_EGRESS_CIDRS, ...hostNetworks().filter((n) => n !== subnet)];
  const v4 = 'iptables';
  // Our own chains are replaced whole and at once (declaring a chain in --noflush mode empties it first), so their
  // order holds whatever an older version installed before.
  await restoreNoFlush(
    v4,
    [
      '*filter',
      ':TENSOR-BOX-IN - [0:0]',
      ':TENSOR-BOX-FWD - [0:0]',
      ':TENSOR-BOX-EGRESS - [0:0]',
      '-A TENSOR-BOX-IN -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      `-A TENSOR-BOX-IN -m mark --mark ${DNS_MARK} -j ACCEPT`,
      '-A TENSOR-BOX-IN -j DROP',
      `-A TENSOR-BOX-FWD -m devgroup --src-group ${OFFLINE_LINK_GROUP} -j DROP`,
      '-A TENSOR-BOX-FWD -o tb+ -j DROP',
      '-A TENSOR-BOX-FWD -j TENSOR-BOX-EGRESS',
      '-A TENSOR-BOX-FWD -j ACCEPT',
      ...egressRules(blocked, allowed),
      'COMMIT',
      '',
    ].join('\n'),
  );
  await ensureRule(v4, 'raw', 'PREROUTING', ['-i', 'tb+', '-m', 'rpfilter', '--invert', '-j', 'DROP']);
  await ensureRule(v4, 'filter', 'INPUT', ['-i', 'tb+', '-j', 'TENSOR-BOX-IN']);
  await ensureRule(v4, 'filter', 'FORWARD', ['-i', 'tb+', '-j', 'TENSOR-BOX-FWD']);
  await ensureRule(v4, 'filter', 'FORWARD', [
    '-o',
    'tb+',
    '-m',
    'conntrack',
    '--ctstate',
    'RELATED,ESTABLISHED',
    '-j',
    'ACCEPT',
  ]);
  await ensureRule(v4, 'nat', 'POSTROUTING', ['-s', subnet, '!', '-o', 'tb+', '-j', 'MASQUERADE']);
  // IPv6: sandbox links carry none. Without ip6tables (no IPv6 on the host) the launcher's per-link switch-off holds.
  const v6 = 'ip6tables';
  const hasV6 = await execFileP(v6, ['-w', '-L', '-n']).then(
    () => true,
    () => false,
  );
  if (!hasV6) return;
  await ensureRule(v6, 'filter', 'INPUT', ['-i', 'tb+', '-j', 'DROP']);
  await ensureRule(v6, 'filter', 'FORWARD', ['-i', 'tb+', '-j', 'DROP']);
  await ensureRule(v6, 'filter', 'FORWARD', ['-o', 'tb+', '-j', 'DROP']);
}
