/**
 * Every sandbox runs in its own user namespace (issue 11, item 5): root and user 1000 inside are unprivileged host IDs
 * from DEFAULT_ID_MAP, checked from the host in /proc/<pid>/status of every sandbox process — also after a pause and
 * resume and in a fork; none of them is the host's user 1000; files written inside keep their inside owners on disk
 * (the idmapped layers), and `sudo` still works. The attack: root inside trying to act as host root (its own ID map,
 * a host-owned file) and, as if it had escaped its mount and PID namespaces, on host files and processes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Sandbox } from 'tensor-box';
import { SandboxCgroup, detectLayout } from '../../packages/runtime/src/cgroups.js';
import { DEFAULT_ID_MAP } from '../../packages/runtime/src/user-namespace.js';
import { startTestServer, type TestServer } from '../helpers/harness.js';

const { base, count } = DEFAULT_ID_MAP;
let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

/** Real, effective, saved and fs uid (and gid) of a host process, from /proc/<pid>/status. */
function ids(pid: number): { uids: number[]; gids: number[] } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const line = (k: string) => (status.match(new RegExp(`^${k}:\\s+(.*)$`, 'm'))?.[1] ?? '').split(/\s+/).map(Number);
    return { uids: line('Uid'), gids: line('Gid') };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** Host PIDs of every process of a sandbox (its cgroup). */
const sandboxPids = (id: string) => new SandboxCgroup(detectLayout(), 'tensor-box', id).pids();

/** Host processes whose real uid is `uid`. */
function hostProcessesOf(uid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => ids(pid)?.uids[0] === uid);
}

/** Every process of the sandbox runs as an ID of the range; returns the host uids seen. */
function assertMapped(id: string): Set<number> {
  const seen = new Set<number>();
  const pids = sandboxPids(id);
  assert.ok(pids.length >= 2, `sandbox ${id} has processes (${pids})`);
  for (const pid of pids) {
    const got = ids(pid);
    if (!got) continue;
    for (const v of [...got.uids, ...got.gids]) {
      assert.ok(v >= base && v < base + count, `pid ${pid}: host ID ${v} is inside ${base}..${base + count - 1}`);
    }
    seen.add(got.uids[0]);
  }
  return seen;
}

async function startSleepers(sbx: Sandbox, n: number): Promise<void> {
  const sleeper = 'setsid sleep 600 </dev/null >/dev/null 2>&1 &';
  await sbx.commands.run(`for i in $(seq ${n}); do ${sleeper} done`, { user: 'user' });
  await sbx.commands.run(sleeper, { user: 'root' });
}

describe('user namespaces', () => {
  it('maps root and user 1000 inside to unprivileged host IDs; the host user 1000 gains no processes', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    try {
      await startSleepers(sbx, 20);
      const seen = assertMapped(sbx.sandboxId);
      assert.ok(seen.has(base), 'root inside is host uid base');
      assert.ok(seen.has(base + 1000), 'user 1000 inside is host uid base+1000');
      // Host user 1000's processes (other drivers' sandboxes may have some) include none of this sandbox's 21+.
      const mine = new Set(sandboxPids(sbx.sandboxId));
      assert.ok(mine.size >= 21, `the sleepers run (${mine.size} processes)`);
      const overlap = hostProcessesOf(1000).filter((p) => mine.has(p));
      assert.deepEqual(overlap, [], 'no process of the sandbox is host user 1000');
      const pid = sandboxPids(sbx.sandboxId)[0];
      assert.equal(readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/).join(' '), `0 ${base} ${count}`);
      assert.notEqual(statSync(`/proc/${pid}/ns/user`).ino, statSync('/proc/self/ns/user').ino, 'own user namespace');

      // Inside everything looks as before: IDs 0 and 1000, sudo works, files keep their owners on disk.
      assert.equal((await sbx.commands.run('id -u')).stdout.trim(), '1000');
      assert.equal((await sbx.commands.run('sudo -n id -u')).stdout.trim(), '0');
      await sbx.commands.run('echo u > /home/user/by-user && sudo -n sh -c "echo r > /root/by-root"');
      const upper = path.join(s.dataDir, 'sandboxes', sbx.sandboxId);
      const onDisk = (rel: string) => {
        for (const u of ['upper', 'disk/upper']) {
          try {
            return statSync(path.join(upper, u, rel));
          } catch {
            /* the other layout */
          }
        }
        throw new Error(`${rel} not in the writable layer`);
      };
      assert.equal(onDisk('home/user/by-user').uid, 1000, 'a file of user 1000 is owned by 1000 on disk');
      assert.equal(onDisk('root/by-root').uid, 0, 'a file of root is owned by 0 on disk');
    } finally {
      await sbx.kill();
    }
  });

  it('root inside has no power over host-owned things, even outside its other namespaces', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    try {
      const root = (cmd: string) =>
        sbx.commands.run(cmd, { user: 'root' }).then(
          (r) => ({ code: r.exitCode, out: r.stdout + r.stderr }),
          (e: { exitCode?: number; stdout?: string; stderr?: string }) => ({
            code: e.exitCode ?? -1,
            out: `${e.stdout}${e.stderr}`,
          }),
        );
      // The ID map is fixed: root inside cannot widen it to reach host root.
      assert.notEqual((await root(`echo '0 0 1' > /proc/self/uid_map`)).code, 0, 'writing uid_map fails');
      // The agent's binary is a host file (host root's): root inside sees it as nobody's and cannot change it.
      const st = await root('stat -c %U /run/tensor-box/envd; chmod u+s /run/tensor-box/envd');
      assert.match(st.out, /nobody/);
      assert.notEqual(st.code, 0, 'chmod on a host-owned file fails');
      // An escape from the mount and PID namespaces, simulated: the sandbox's root identity (its user namespace, as
      // its uid 0 with every capability there) on the host's file system and processes. Host root with the kept
      // capabilities (the old boundary) would read /etc/shadow and signal PID 1.
      const pid = sandboxPids(sbx.sandboxId)[0];
      const escaped = (cmd: string[]) =>
        spawnSync('nsenter', ['-t', String(pid), '-U', '--', ...cmd], { encoding: 'utf8' });
      assert.equal(escaped(['id', '-u']).stdout.trim(), '0', 'it believes it is root');
      const shadow = escaped(['cat', '/etc/shadow']);
      assert.notEqual(shadow.status, 0, 'cannot read /etc/shadow');
      assert.match(shadow.stderr, /Permission denied/);
      assert.match(escaped(['kill', '-0', '1']).stderr, /not permitted/i, 'cannot signal the host init');
      assert.notEqual(escaped(['touch', '/etc/tb-userns-probe']).status, 0, 'cannot write /etc');
    } finally {
      await sbx.kill().catch(() => {});
    }
  });

  it('keeps the mapping across pause/resume and in a snapshot fork', async () => {
    const sbx = await Sandbox.create('default', { ...s.conn, timeoutMs: 120_000 });
    try {
      await startSleepers(sbx, 2);
      await sbx.pause();
      await sbx.resume();
      const seen = assertMapped(sbx.sandboxId);
      assert.ok(seen.has(base) && seen.has(base + 1000), `resumed processes keep their IDs (${[...seen]})`);
      assert.equal((await sbx.commands.run('sudo -n id -u')).stdout.trim(), '0', 'sudo after resume');
      const bind80 = `python3 -c "import socket; s=socket.socket(); s.bind(('0.0.0.0', 80)); print(1)"`;
      assert.equal(
        (await sbx.commands.run(bind80, { user: 'root' })).stdout.trim(),
        '1',
        "root still binds a low port after resume (its netns is its user namespace's)",
      );
      const snap = await sbx.createSnapshot();
      const fork = await Sandbox.create(snap.snapshotId, { ...s.conn, timeoutMs: 120_000 });
      try {
        assertMapped(fork.sandboxId);
        assert.equal((await fork.commands.run('id -u')).stdout.trim(), '1000');
      } finally {
        await fork.kill();
      }
    } finally {
      await sbx.kill();
    }
  });
});
