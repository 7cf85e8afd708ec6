/**
 * QEMU `-M microvm` command lines and the accelerator probe. One function builds the device list for every start
 * (boot, template boot, restore), because a migration stream only loads into a VM with the same devices in the same
 * order: `layers` read-only virtio-blk disks (serials tblayer<i>), the writable disk (tbdisk), virtio-net on `tap0` of
 * the sandbox's netns, a QMP socket, the serial console to a file. RAM is anonymous, or a file: `share: true` for a
 * template VM (the file is the snapshot's memory), `share: false` for restores (a private copy-on-write mapping of the
 * template's memory: pages are read on first touch, writes stay in the VM); a VM restored from a sandbox checkpoint
 * of such a VM gets anonymous RAM under the same backend name (`ram`), filled from the stream.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GUEST_MAC } from './vm-network.js';

const execFileP = promisify(execFile);

export type Accel = 'kvm' | 'tcg';

export interface VmConfig {
  accel: Accel;
  kernel: string;
  initrd: string;
  /** ext4 images of the template layers, topmost first. */
  layers: string[];
  disk: string;
  cpuCount: number;
  memoryMB: number;
  /** RAM from a file (`share`: writes go to the file), or anonymous RAM under the same name (`ram`). */
  memory?: { file: string; share: boolean } | { ram: true };
  hostname: string;
  qmpSocket: string;
  /** Where the serial console goes (default nowhere). */
  consoleLog?: string;
  /** Wait for `migrate-incoming` instead of booting. */
  incoming?: boolean;
  /** Boot only to prove the accelerator runs a guest (guest-init.sh powers off at once). */
  probe?: boolean;
}

/** The host TSC rate in kHz: the guest must not calibrate it (TCG boots hang now and then while calibrating). */
function hostTscKhz(): number | undefined {
  const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

export function qemuArgs(c: VmConfig): string[] {
  const khz = hostTscKhz();
  const cmdline = [
    'console=ttyS0',
    'quiet',
    'loglevel=3',
    'panic=-1',
    'mitigations=off',
    'random.trust_cpu=on',
    ...(khz ? [`tsc_early_khz=${khz}`, 'tsc=reliable'] : []),
    `tb.layers=${c.layers.length}`,
    `tb.hostname=${c.hostname}`,
    ...(c.probe ? ['tb.probe'] : []),
  ].join(' ');
  const args = [
    '-M',
    c.memory ? 'microvm,memory-backend=mem' : 'microvm',
    '-accel',
    c.accel === 'kvm' ? 'kvm' : 'tcg,tb-size=32',
    '-cpu',
    c.accel === 'kvm' ? 'host' : 'max',
    '-smp',
    String(c.cpuCount),
    '-m',
    `${c.memoryMB}M`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-serial',
    `file:${c.consoleLog ?? '/dev/null'}`,
    '-kernel',
    c.kernel,
    '-initrd',
    c.initrd,
    '-append',
    cmdline,
  ];
  if (c.memory && 'ram' in c.memory) args.push('-object', `memory-backend-ram,id=mem,size=${c.memoryMB}M`);
  else if (c.memory) {
    const share = c.memory.share ? 'on' : 'off';
    args.push('-object', `memory-backend-file,id=mem,size=${c.memoryMB}M,mem-path=${c.memory.file},share=${share}`);
  }
  c.layers.forEach((img, i) => {
    args.push('-drive', `id=l${i},file=${img},format=raw,if=none,readonly=on`);
    args.push('-device', `virtio-blk-device,drive=l${i},serial=tblayer${i}`);
  });
  if (!c.probe) {
    args.push('-drive', `id=rw,file=${c.disk},format=raw,if=none,discard=unmap`);
    args.push('-device', 'virtio-blk-device,drive=rw,serial=tbdisk');
    args.push('-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no');
    args.push('-device', `virtio-net-device,netdev=n0,mac=${GUEST_MAC}`);
    args.push('-qmp', `unix:${c.qmpSocket},server=on,wait=off`);
  }
  if (c.incoming) args.push('-incoming', 'defer');
  return args;
}

let probed: Promise<Accel> | undefined;

/**
 * `kvm` when /dev/kvm runs a stock guest kernel (a short boot that powers off), else `tcg`. Some hosts expose a
 * /dev/kvm that cannot (e.g. PVM, which needs a specially built guest kernel), so the device alone proves nothing.
 * Probed once per process.
 */
export function detectAccel(qemu: string, kernel: string, initrd: string): Promise<Accel> {
  probed ??= (async (): Promise<Accel> => {
    if (!existsSync('/dev/kvm')) return 'tcg';
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-kvm-probe-'));
    try {
      const consoleLog = path.join(dir, 'console');
      const args = qemuArgs({
        accel: 'kvm',
        kernel,
        initrd,
        layers: [],
        disk: '',
        cpuCount: 1,
        memoryMB: 128,
        hostname: 'probe',
        qmpSocket: '',
        consoleLog,
        probe: true,
      });
      await execFileP('timeout', ['-s', 'KILL', '15', qemu, ...args]).catch(() => {});
      return existsSync(consoleLog) && readFileSync(consoleLog, 'utf8').includes('tb-probe-ok') ? 'kvm' : 'tcg';
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return probed;
}
