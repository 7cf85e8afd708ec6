/**
 * The driver-side rules of user namespaces (user-namespace.ts): which ranges are accepted, and what the launcher and
 * CRIU are told with and without a map. The namespaces themselves are tested with real sandboxes in
 * tests/security/userns.test.ts and the driver suite.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  checkIdMap,
  DEFAULT_ID_MAP,
  dumpNamespaceArgs,
  inOtherUserNamespace,
  launcherIdArgs,
} from './user-namespace.js';

describe('user namespace rules', () => {
  it('accepts the default range and refuses ranges that are too small, reach host root or leave 32 bits', () => {
    assert.deepEqual(checkIdMap(DEFAULT_ID_MAP), DEFAULT_ID_MAP);
    assert.ok(DEFAULT_ID_MAP.base + DEFAULT_ID_MAP.count < 2 ** 31, 'below 2^31');
    for (const bad of [
      { base: 0, count: 65536 },
      { base: 100000, count: 1000 },
      { base: 2 ** 32 - 1000, count: 65536 },
      { base: 1.5, count: 65536 },
      { base: -5, count: 65536 },
    ]) {
      assert.throws(() => checkIdMap(bad), /invalid user namespace range/, JSON.stringify(bad));
    }
  });

  it('tells the launcher the map, and nothing without one', () => {
    assert.deepEqual(launcherIdArgs({ base: 300000, count: 65536 }), ['--uid-base', '300000', '--uid-count', '65536']);
    assert.deepEqual(launcherIdArgs(undefined), []);
  });

  it('dumps the netns as external without a map, empty with one, and names the bound device nodes', () => {
    const ino = statSync(`/proc/${process.pid}/ns/net`).ino;
    assert.deepEqual(dumpNamespaceArgs(process.pid), ['--external', `net[${ino}]:extnet`]);
    const args = dumpNamespaceArgs(process.pid, DEFAULT_ID_MAP);
    assert.deepEqual(args.slice(0, 2), ['--empty-ns', 'net']);
    for (const d of ['null', 'zero', 'full', 'random', 'urandom', 'tty']) {
      assert.ok(args.includes(`mnt[/dev/${d}]:dev-${d}`), d);
    }
    assert.ok(!args.some((a) => a.startsWith('net[')), 'no external netns with a map');
  });

  it('knows our own user namespace', () => {
    assert.equal(inOtherUserNamespace(process.pid), false);
  });
});
