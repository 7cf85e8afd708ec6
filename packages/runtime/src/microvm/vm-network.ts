/**
 * A microVM's network: a named netns `tbvm-<sandboxId>` per sandbox holding
 *   - `eth0`, the inner end of a veth pair whose host end `tbm<slot>` has `<prefix>.x.y+1/30` (the sandbox's address,
 *     `+2`, is what the control plane dials — exactly like the container driver's veth);
 *   - `tap0` (fixed MAC, 10.0.2.1/30) that QEMU attaches the guest's virtio-net to; the guest is always 10.0.2.2.
 * DNAT turns traffic for the sandbox address into traffic for the guest, and guest traffic leaves masqueraded as the
 * sandbox address, so every guest can be restored from one snapshot with the same inner address. The host end matches
 * the host firewall's `tb+` rules (firewall.ts: no sandbox→host, no sandbox→sandbox, no spoofing, blocked egress);
 * without internet access the netns has no default route.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Slot, Slots } from '../link-slots.js';

const execFileP = promisify(execFile);

export const GUEST_IP = '10.0.2.2';
const TAP_IP = '10.0.2.1';
const TAP_MAC = '02:00:0a:00:02:01';
export const GUEST_MAC = '02:00:0a:00:02:02';

export const netnsName = (sandboxId: string) => `tbvm-${sandboxId}`;
export const netnsPath = (sandboxId: string) => `/run/netns/${netnsName(sandboxId)}`;

export interface VmLink {
  hostIf: string;
  hostIp: string;
  sandboxIp: string;
}

/** Makes the netns, veth pair, tap and NAT rules of one sandbox (one shell, so one process start). */
export async function createVmNetwork(sandboxId: string, link: VmLink, internet: boolean): Promise<void> {
  const ns = netnsName(sandboxId);
  const inNs = `ip netns exec ${ns}`;
  const script = [
    'set -e',
    `ip netns add ${ns}`,
    `ip link add ${link.hostIf} type veth peer name eth0 netns ${ns}`,
    `ip addr add ${link.hostIp}/30 dev ${link.hostIf}`,
    `ip link set ${link.hostIf} up`,
    `ip -n ${ns} link set lo up`,
    `ip -n ${ns} addr add ${link.sandboxIp}/30 dev eth0`,
    `ip -n ${ns} link set eth0 up`,
    `ip -n ${ns} tuntap add dev tap0 mode tap`,
    `ip -n ${ns} link set tap0 address ${TAP_MAC}`,
    `ip -n ${ns} addr add ${TAP_IP}/30 dev tap0`,
    `ip -n ${ns} link set tap0 up`,
    ...(internet ? [`ip -n ${ns} route add default via ${link.hostIp}`] : []),
    `${inNs} sysctl -qw net.ipv4.ip_forward=1`,
    `${inNs} iptables -w -t nat -A PREROUTING -i eth0 -d ${link.sandboxIp} -j DNAT --to-destination ${GUEST_IP}`,
    `${inNs} iptables -w -t nat -A POSTROUTING -o eth0 -j SNAT --to-source ${link.sandboxIp}`,
  ].join('\n');
  await execFileP('bash', ['-c', script]);
}

/** Removes the netns (with the veth pair and the tap in it) and a host link that may have outlived it. */
export async function removeVmNetwork(sandboxId: string, hostIf?: string): Promise<void> {
  if (existsSync(netnsPath(sandboxId))) await execFileP('ip', ['netns', 'del', netnsName(sandboxId)]).catch(() => {});
  if (hostIf && existsSync(`/sys/class/net/${hostIf}`)) await execFileP('ip', ['link', 'del', hostIf]).catch(() => {});
}

/**
 * Makes the sandbox's netns and link on `link`'s slot, moving to the next free slot when another driver instance
 * took the link's name between our check and its creation (`link.own` false: that name is not ours to delete).
 */
export async function createVmNetworkOnFreeSlot(
  slots: Slots,
  sandboxId: string,
  link: Slot & { own: boolean },
  internet: boolean,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await createVmNetwork(sandboxId, link, internet);
      return;
    } catch (err) {
      if (!/File exists/.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
      link.own = false;
      await removeVmNetwork(sandboxId);
      if (attempt >= 3) throw err;
      slots.release(link.slot);
      Object.assign(link, slots.allocate(sandboxId), { own: true });
    }
  }
}
