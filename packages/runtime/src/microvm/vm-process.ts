/**
 * Starting a QEMU process for a sandbox: it joins the sandbox's cgroups and netns before it execs (so the PID the
 * driver records is QEMU's from its first instruction, and every byte it allocates is charged to the sandbox), writes
 * its stderr to `qemu.log`, and outlives the control plane (detached). `waitForAgent` waits for the guest's envd to
 * answer /health through the sandbox address, failing fast when QEMU exits first.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { netnsPath } from './vm-network.js';

export interface VmProcess {
  pid: number;
  /** Resolves with the exit code when QEMU ends (null: killed by a signal). */
  exited: Promise<number | null>;
  hasExited(): boolean;
  /** Waits (polling: the child is unref'd, so its exit alone would not keep the event loop alive) up to `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<boolean>;
}

export interface QemuPlacement {
  sandboxId: string;
  cgroupDirs: string[];
  logFile: string;
}

export function startQemu(qemu: string, args: string[], o: QemuPlacement): VmProcess {
  const join = o.cgroupDirs.map((d) => `echo $$ > '${d}/cgroup.procs'`).join(' && ');
  const exec = `exec nsenter --net=${netnsPath(o.sandboxId)} -- "$@"`;
  const log = openSync(o.logFile, 'a');
  let done = false;
  try {
    const child = spawn('/bin/bash', ['-c', join ? `${join} && ${exec}` : exec, 'qemu', qemu, ...args], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => {
        done = true;
        resolve(code);
      });
      child.on('error', () => {
        done = true;
        resolve(127);
      });
    });
    child.unref();
    const waitExit = async (timeoutMs: number) => {
      for (const deadline = Date.now() + timeoutMs; !done && Date.now() < deadline; ) await sleep(10);
      return done;
    };
    if (!child.pid) throw new Error(`cannot start ${qemu}`);
    return { pid: child.pid, exited, hasExited: () => done, waitExit };
  } finally {
    closeSync(log);
  }
}

function health(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** The tail of a log file, for error messages (the guest console says why a boot failed). */
export function logTail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

/** Whether a process exists and is not on its way out (a killed QEMU takes a while to release its memory). */
export function processLives(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, , , , , , flags] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const PF_EXITING = 0x4;
    return state !== 'Z' && state !== 'X' && (Number(flags) & PF_EXITING) === 0;
  } catch {
    return false;
  }
}

export async function waitForAgent(envdUrl: string, vm: VmProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A connection attempt made before the guest runs gets no answer at all (its SYN is lost): retry soon, but give a
  // slow (emulated) guest longer each time.
  for (let attempt = 0; ; attempt++) {
    if (vm.hasExited()) throw new Error('the VM exited before its agent answered');
    const status = await health(`${envdUrl}/health`, Math.min(100 * 2 ** attempt, 2000));
    if (status >= 200 && status < 300) return;
    if (Date.now() > deadline) throw new Error(`the guest agent did not answer within ${timeoutMs} ms`);
    await sleep(status ? 20 : 50);
  }
}
