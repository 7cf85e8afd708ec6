/**
 * The shared driver test suite: every Driver implementation must pass it. It checks the lifecycle contract documented
 * in driver.ts with real sandboxes: create answers with a live agent, isolation holds, limits apply, destroy leaves
 * nothing, failures leave nothing, list re-adopts the living and clears the dead, and (when offered) freeze/thaw.
 * Over 400 lines on purpose: it is the one contract every driver passes; keeping it whole keeps it in one place.
 *
 * `inside(info, cmd)` runs a shell command inside a sandbox by the driver's own means (for `container`: nsenter).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENVD_PORT } from './envd-port.gen.js';
import { inOtherUserNamespace } from './user-namespace.js';
import {
  DriverError,
  hasCheckpointer,
  hasCloser,
  hasFreezer,
  hasLayerCapturer,
  type Driver,
  type SandboxRuntimeInfo,
  type SandboxSpec,
} from './driver.js';

export interface DriverSuiteOptions {
  name: string;
  /** A fresh driver over the same host state (a second call models a control-plane restart). */
  makeDriver(): Driver;
  /** A driver whose sandboxes cannot start (e.g. the agent binary fails), to check that failures leave nothing. */
  makeBrokenDriver(): Driver;
  layers: string[];
  /** Runs a shell command in the sandbox as one of its processes (counted against its cgroup unless `outside`). */
  inside(info: SandboxRuntimeInfo, cmd: string, opts?: { outside?: boolean }): string;
  /** Host objects that belong to a sandbox and must be gone after destroy (processes, mounts, cgroups, links, dirs). */
  leftovers(sandboxId: string): string[];
  /**
   * A file of the writable layer as a checkpoint saved it (default `<imageDir>/upper/<file>`); undefined when the
   * driver cannot read it from outside (a VM's checkpoint keeps it on a disk image, possibly still in guest memory).
   */
  checkpointFile?(imageDir: string, file: string): string | undefined;
  skip?: string | false;
}

/** GET /health of an agent on a fresh connection (sandbox addresses are reused; a pooled socket could be stale). */
function health(envdUrl: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(`${envdUrl}/health`, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

let counter = 0;
const newId = (p: string) =>
  `${p}${process.pid.toString(36)}${(counter++).toString(36)}${Date.now().toString(36).slice(-4)}`;

export function driverSuite(o: DriverSuiteOptions): void {
  describe(`driver suite: ${o.name}`, { skip: o.skip }, () => {
    let driver: Driver;
    const made: string[] = [];
    const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => {
      const s: SandboxSpec = {
        sandboxId: newId('ds'),
        layers: o.layers,
        cpuCount: 1,
        memoryMB: 256,
        diskMB: 0,
        internetAccess: false,
        ...over,
      };
      made.push(s.sandboxId);
      return s;
    };

    before(() => {
      driver = o.makeDriver();
    });
    after(async () => {
      for (const id of made) await driver.destroy(id).catch(() => {});
      if (hasCloser(driver)) await driver.close();
    });

    it('create returns a sandbox whose agent already answers', async () => {
      const info = await driver.create(spec());
      assert.ok(info.pid > 1);
      const res = { status: await health(info.envdUrl) };
      assert.equal(res.status, 204);
      assert.equal(o.inside(info, 'hostname').trim(), info.sandboxId);
    });

    it('isolates processes, files and the network from the host and other sandboxes', async () => {
      const a = await driver.create(spec());
      const b = await driver.create(spec());
      // PID namespace: only the sandbox's own processes (the agent's init is PID 1). Kernel threads (a VM's own
      // kernel has dozens) have an empty command line and are not counted.
      const pids = o.inside(
        a,
        'for c in /proc/[0-9]*/cmdline; do [ -n "$(tr -d "\\0" < $c 2>/dev/null)" ] && echo; done | wc -l',
      );
      assert.ok(Number(pids) < 10, `sandbox sees ${pids} processes`);
      assert.equal(path.basename(o.inside(a, 'cat /proc/1/cmdline | tr "\\0" " "').split(' ')[0]), 'tb-init');
      // Mount namespace: the host's files are not there.
      assert.equal(o.inside(a, `test -e ${process.cwd()} && echo visible || echo hidden`).trim(), 'hidden');
      // Network: the host reaches the sandbox; the sandbox reaches neither the other sandbox nor host services.
      const server = net.createServer((s) => s.end('host-secret')).listen(0, '0.0.0.0');
      await new Promise((r) => server.once('listening', r));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const hostSide = a.address.replace(/\d+$/, (n) => String(Number(n) - 1));
        const probe = (ip: string, p: number) =>
          o.inside(a, `timeout 2 bash -c 'exec 3<>/dev/tcp/${ip}/${p} && echo open' 2>/dev/null || echo closed`).trim();
        assert.equal(probe(hostSide, port), 'closed', 'host service reachable from a sandbox');
        assert.equal(probe(b.address, ENVD_PORT), 'closed', 'another sandbox reachable');
        assert.equal(probe('127.0.0.1', ENVD_PORT), 'open', 'own agent not reachable on loopback');
      } finally {
        server.close();
      }
    });

    it('applies cgroup limits and reports usage', async () => {
      const info = await driver.create(spec({ memoryMB: 128, cpuCount: 1 }));
      const st = await driver.stats(info.sandboxId);
      assert.equal(st.memoryLimitBytes, 128 * 1024 * 1024);
      assert.equal(st.cpuCount, 1);
      assert.ok(st.pids >= 2, `pids ${st.pids}`);
      assert.ok(st.memoryUsedBytes > 0);
      // Allocating past the limit gets the allocating process killed (a cgroup's OOM killer), or refused outright (a
      // VM's own kernel does not overcommit that far) — never the host's memory.
      const out = o.inside(info, `python3 -c 'b = bytearray(300*1024*1024); print("alive")' 2>&1; echo "exit=$?"`);
      assert.match(out, /exit=137|MemoryError[\s\S]*exit=1/);
    });

    it('destroy leaves nothing behind and is idempotent', async () => {
      const info = await driver.create(spec());
      assert.ok(o.leftovers(info.sandboxId).length > 0, 'leftovers() sees nothing of a live sandbox');
      await driver.destroy(info.sandboxId);
      assert.deepEqual(o.leftovers(info.sandboxId), []);
      await driver.destroy(info.sandboxId);
      await driver.destroy('never-existed');
      await assert.rejects(
        driver.stats(info.sandboxId),
        (e: unknown) => e instanceof DriverError && e.kind === 'not_found',
      );
    });

    it('a failed create throws and leaves nothing', async () => {
      const broken = o.makeBrokenDriver();
      const s = spec();
      await assert.rejects(broken.create(s), DriverError);
      assert.deepEqual(o.leftovers(s.sandboxId), []);
      const missing = spec({ layers: ['/nonexistent/rootfs'] });
      await assert.rejects(
        driver.create(missing),
        (e: unknown) => e instanceof DriverError && e.kind === 'failed_precondition',
      );
      assert.deepEqual(o.leftovers(missing.sandboxId), []);
    });

    it('list re-adopts living sandboxes in a new driver and clears dead ones', async () => {
      const alive = await driver.create(spec());
      const dead = await driver.create(spec());
      process.kill(dead.pid, 'SIGKILL');
      await sleep(50);
      const fresh = o.makeDriver();
      const listed = (await fresh.list()).map((i) => i.sandboxId);
      assert.ok(listed.includes(alive.sandboxId));
      assert.ok(!listed.includes(dead.sandboxId));
      assert.deepEqual(o.leftovers(dead.sandboxId), []);
      assert.equal(await health(alive.envdUrl), 204);
      await fresh.destroy(alive.sandboxId);
      assert.deepEqual(o.leftovers(alive.sandboxId), []);
    });

    it('freeze stops every process in place and thaw resumes it', async (t) => {
      if (!hasFreezer(driver)) return t.skip('driver has no freezer');
      const info = await driver.create(spec());
      o.inside(
        info,
        `nohup bash -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.01; done' >/dev/null 2>&1 &`,
      );
      await sleep(100);
      // The loop truncates the file before it writes: a read in between sees it empty and is repeated (a frozen
      // loop may stay in between: then every read is empty, which is -1 here).
      const count = (opts?: { outside: boolean }) => {
        for (let i = 0; i < 20; i++) {
          const text = o.inside(info, 'cat /tmp/count', opts).trim();
          if (text) return Number(text);
        }
        return -1;
      };
      await driver.freeze(info.sandboxId);
      const c1 = count({ outside: true });
      await sleep(200);
      const c2 = count({ outside: true });
      assert.equal(c1, c2, 'counter moved while frozen');
      await driver.thaw(info.sandboxId);
      await sleep(200);
      assert.ok(count() > c2, 'counter did not resume');
      // A frozen sandbox can still be destroyed completely.
      await driver.freeze(info.sandboxId);
      await driver.destroy(info.sandboxId);
      assert.deepEqual(o.leftovers(info.sandboxId), []);
    });

    it('checkpoint saves processes, memory and files and frees the host; restore continues them', async (t) => {
      if (!hasCheckpointer(driver)) return t.skip('driver has no checkpoint/restore');
      const probe = await driver.checkpoint('nosuchsandbox', path.join(os.tmpdir(), 'never')).then(
        () => undefined,
        (e: DriverError) => e,
      );
      if (probe?.kind === 'failed_precondition') return t.skip(probe.message);
      const images = mkdtempSync(path.join(os.tmpdir(), 'tb-ckpt-'));
      try {
        const s1 = spec();
        const a = await driver.create(s1);
        // A counter in memory (the shell variable), written out so the test can read it; and a file with known bytes.
        // (written to a temp file and renamed, so a read never sees a half-written file)
        o.inside(
          a,
          `setsid bash -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; ` +
            `sleep 0.02; done' </dev/null >/dev/null 2>&1 &`,
        );
        const sum = o
          .inside(a, 'head -c 3000000 /dev/urandom > /root/data.bin && sha256sum /root/data.bin')
          .split(' ')[0];
        // Until the counter has clearly run (slow under an emulated CPU).
        let before = 0;
        for (let i = 0; i < 100 && before <= 3; i++, await sleep(100))
          before = Number(o.inside(a, 'cat /tmp/count 2>/dev/null || echo 0'));
        const pause = path.join(images, 'pause');
        await driver.checkpoint(a.sandboxId, pause);
        assert.deepEqual(o.leftovers(a.sandboxId), [], 'a checkpointed sandbox leaves nothing running on the host');
        const readFile = o.checkpointFile ?? ((dir, f) => readFileSync(path.join(dir, 'upper', f), 'utf8'));
        const atPause = Number(readFile(pause, 'tmp/count') ?? before);
        assert.ok(atPause > 3, `counter ran before the checkpoint (${atPause})`);

        const b = await driver.restore(s1, pause, { move: true });
        assert.equal(await health(b.envdUrl), 204, 'restored agent answers');
        await sleep(200);
        const after = Number(o.inside(b, 'cat /tmp/count'));
        assert.ok(after > atPause, `counter continued from ${atPause} (now ${after})`);
        assert.ok(after < atPause + 1000, 'counter continued rather than restarted… or ran far too long');
        assert.equal(o.inside(b, 'sha256sum /root/data.bin').split(' ')[0], sum, 'file bytes kept');

        // A live snapshot (the sandbox keeps running) restored under another id: two independent copies.
        const snap = path.join(images, 'snap');
        await driver.checkpoint(b.sandboxId, snap, { leaveRunning: true });
        assert.ok(
          (await driver.list()).some((x) => x.sandboxId === b.sandboxId),
          'source keeps running',
        );
        const s2 = spec();
        const c = await driver.restore(s2, snap);
        o.inside(c, 'echo fork > /root/only-in-copy');
        await sleep(100);
        assert.equal(o.inside(b, 'test -e /root/only-in-copy && echo yes || echo no').trim(), 'no');
        assert.equal(o.inside(c, 'sha256sum /root/data.bin').split(' ')[0], sum);
        const c1 = Number(o.inside(c, 'cat /tmp/count'));
        await sleep(150);
        assert.ok(Number(o.inside(c, 'cat /tmp/count')) > c1, 'the copy runs the counter too');
        await driver.destroy(c.sandboxId);
        assert.deepEqual(o.leftovers(c.sandboxId), []);
        // The snapshot is still there and usable after its copy is gone.
        const d = await driver.restore(spec(), snap);
        assert.equal(o.inside(d, 'sha256sum /root/data.bin').split(' ')[0], sum);
      } finally {
        rmSync(images, { recursive: true, force: true });
      }
    });

    it(
      'limits the writable layer to diskMB: writing past it ' + 'fails with ENOSPC inside, and stats report the disk',
      async () => {
        const info = await driver.create(spec({ diskMB: 64 }));
        const out = o.inside(info, 'dd if=/dev/zero of=/root/fill bs=1M count=100 2>&1; echo "exit=$?"');
        assert.match(out, /No space left on device/);
        assert.match(out, /exit=1/);
        const st = await driver.stats(info.sandboxId);
        assert.ok(
          st.diskLimitBytes <= 64 * 1024 * 1024 && st.diskLimitBytes > 50 * 1024 * 1024,
          `limit ${st.diskLimitBytes}`,
        );
        assert.ok(st.diskUsedBytes > 50 * 1024 * 1024, `used ${st.diskUsedBytes}`);
        // Freeing space makes room again (the sandbox is not wedged).
        assert.equal(o.inside(info, 'rm /root/fill && echo ok > /root/after && cat /root/after').trim(), 'ok');
        await driver.destroy(info.sandboxId);
        assert.deepEqual(o.leftovers(info.sandboxId), []);
      },
    );

    it('pause and resume keep the files of a sandbox with its own disk, and its limit', async (t) => {
      if (!hasCheckpointer(driver)) return t.skip('driver has no checkpoint/restore');
      const images = mkdtempSync(path.join(os.tmpdir(), 'tb-disk-ckpt-'));
      try {
        const s1 = spec({ diskMB: 128 });
        const a = await driver.create(s1);
        const sum = o
          .inside(a, 'head -c 20000000 /dev/urandom > /root/data.bin && sha256sum /root/data.bin')
          .split(' ')[0];
        const pause = path.join(images, 'pause');
        await driver.checkpoint(a.sandboxId, pause);
        assert.deepEqual(o.leftovers(a.sandboxId), []);
        const b = await driver.restore(s1, pause, { move: true });
        assert.equal(o.inside(b, 'sha256sum /root/data.bin').split(' ')[0], sum, 'file bytes kept');
        assert.match(
          o.inside(b, 'dd if=/dev/zero of=/root/fill bs=1M count=200 2>&1; true'),
          /No space left on device/,
        );
        // A live snapshot of it restored elsewhere is an independent copy with the same files.
        o.inside(b, 'rm -f /root/fill');
        const snap = path.join(images, 'snap');
        await driver.checkpoint(b.sandboxId, snap, { leaveRunning: true });
        const c = await driver.restore(spec({ diskMB: 128 }), snap);
        assert.equal(o.inside(c, 'sha256sum /root/data.bin').split(' ')[0], sum);
        o.inside(c, 'echo copy > /root/only-copy');
        assert.equal(o.inside(b, 'test -e /root/only-copy && echo yes || echo no').trim(), 'no');
      } finally {
        rmSync(images, { recursive: true, force: true });
      }
    });

    it('captures a writable layer that new sandboxes stack on (added, deleted and replaced files)', async (t) => {
      if (!hasLayerCapturer(driver)) return t.skip('driver cannot capture layers');
      const layers = mkdtempSync(path.join(os.tmpdir(), 'tb-layers-'));
      try {
        const a = await driver.create(spec());
        // Added file, deleted lower file (whiteout), replaced lower directory (opaque dir).
        o.inside(
          a,
          'echo committed > /root/added && rm /etc/issue && rm -rf /usr/share/doc && mkdir -p /usr/share/doc && ' +
            'echo only > /usr/share/doc/new',
        );
        const l1 = path.join(layers, 'l1');
        await driver.captureLayer(a.sandboxId, l1, { leaveRunning: true });
        assert.equal(await health(a.envdUrl), 204, 'the source keeps running');
        assert.equal(o.inside(a, 'echo still > /root/after && cat /root/after').trim(), 'still', 'and is thawed');
        const b = await driver.create(spec({ layers: [l1, ...o.layers] }));
        assert.equal(o.inside(b, 'cat /root/added').trim(), 'committed');
        assert.equal(
          o.inside(b, 'test -e /root/after && echo yes || echo no').trim(),
          'no',
          'later writes are not in the layer',
        );
        assert.equal(
          o.inside(b, 'test -e /etc/issue && echo yes || echo no').trim(),
          'no',
          'a deleted file stays deleted',
        );
        assert.equal(o.inside(b, 'ls /usr/share/doc').trim(), 'new', 'a replaced directory hides the lower contents');
        // A second layer on top, captured by ending the sandbox (moved, not copied).
        o.inside(b, 'echo two > /root/second');
        const l2 = path.join(layers, 'l2');
        await driver.captureLayer(b.sandboxId, l2);
        assert.deepEqual(o.leftovers(b.sandboxId), [], 'capturing without leaveRunning ends the sandbox');
        const c = await driver.create(spec({ layers: [l2, l1, ...o.layers] }));
        assert.equal(o.inside(c, 'cat /root/added /root/second').trim(), 'committed\ntwo');
        await assert.rejects(
          driver.captureLayer(c.sandboxId, l1),
          (e: DriverError) => e.kind === 'failed_precondition',
        );
        await assert.rejects(
          driver.captureLayer('nosuchsandbox', path.join(layers, 'x')),
          (e: DriverError) => e.kind === 'not_found',
        );
      } finally {
        rmSync(layers, { recursive: true, force: true });
      }
    });

    it('a checkpoint can hand its writable layer out as a layer (warm template start)', async (t) => {
      if (!hasCheckpointer(driver)) return t.skip('driver has no checkpoint/restore');
      const probe = await driver
        .checkpoint('nosuchsandbox', path.join(os.tmpdir(), 'never'), { layerOut: '/never' })
        .then(
          () => undefined,
          (e: DriverError) => e,
        );
      if (probe?.kind === 'failed_precondition') return t.skip(probe.message);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-warm-'));
      try {
        const a = await driver.create(spec());
        o.inside(a, 'echo warm > /root/state');
        o.inside(
          a,
          `setsid bash -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.02; ` +
            `done' </dev/null >/dev/null 2>&1 &`,
        );
        await sleep(200);
        const layer = path.join(dir, 'layer');
        const image = path.join(dir, 'image');
        await driver.checkpoint(a.sandboxId, image, { layerOut: layer });
        assert.equal(readFileSync(path.join(layer, 'root', 'state'), 'utf8'), 'warm\n', 'the layer holds the files');
        // Two sandboxes from one image: both continue the counter, on the layer, each with its own writable layer.
        const b = await driver.restore(spec({ layers: [] }), image);
        const c = await driver.restore(spec({ layers: [] }), image);
        o.inside(b, 'echo mine > /root/own');
        const n = Number(o.inside(c, 'cat /tmp/n'));
        await sleep(150);
        assert.ok(Number(o.inside(c, 'cat /tmp/n')) > n, 'the captured process runs on');
        assert.equal(o.inside(c, 'cat /root/state').trim(), 'warm');
        assert.equal(o.inside(c, 'test -e /root/own && echo yes || echo no').trim(), 'no');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a failed checkpoint leaves the sandbox running; restoring a missing checkpoint is NotFound', async (t) => {
      if (!hasCheckpointer(driver)) return t.skip('driver has no checkpoint/restore');
      const info = await driver.create(spec());
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-ckpt-'));
      try {
        // The target directory exists: refused before anything happens.
        await assert.rejects(
          driver.checkpoint(info.sandboxId, dir),
          (e: DriverError) => e.kind === 'failed_precondition' || e.kind === 'internal',
        );
        assert.equal(await health(info.envdUrl), 204);
        await assert.rejects(
          driver.restore(spec(), path.join(dir, 'missing')),
          (e: DriverError) => e.kind === 'not_found' || e.kind === 'failed_precondition',
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/**
 * Runs a command in all of a process's namespaces (host tool; used by the container driver's suite), first moving
 * itself into `cgroupDirs` so the sandbox's limits and freezer apply to it.
 */
export function nsenterShell(pid: number, cmd: string, cgroupDirs: string[] = []): string {
  const join = cgroupDirs.map((d) => `echo $$ > '${d}/cgroup.procs'`).join(' && ');
  // In a user namespace: enter it too (as its root), or files made inside would belong to no ID the layers can map.
  const userns = inOtherUserNamespace(pid) ? ' -U' : '';
  const enter = `exec nsenter -t ${pid}${userns} -m -u -i -n -p -C -- /bin/bash -c "$0"`;
  return execFileSync('/bin/bash', ['-c', join ? `${join} && ${enter}` : enter, cmd], {
    encoding: 'utf8',
    timeout: 20_000,
  });
}
