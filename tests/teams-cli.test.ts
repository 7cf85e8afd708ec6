/**
 * `tensor-box team …` and `tensor-box key …` as a user runs them (real processes, real server; no sandboxes
 * needed): create, list, get, quota, delete, key create/list/revoke, --json, and the exit codes of refusals.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './helpers/harness.js';
import { cliFor } from './helpers/cli.js';

let s: TestServer;
const cli = cliFor(() => s);

before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.close();
});

describe('tensor-box team / key', () => {
  it('team create, list, quota, get; key create, list, revoke; team delete', async () => {
    const created = await cli(['team', 'create', 'cli-team', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const { teamID } = JSON.parse(created.stdout);
    assert.ok((await cli(['team', 'list'])).stdout.includes(teamID));

    const q = await cli(['team', 'quota', teamID, '--max-running-sandboxes', '3', '--max-templates', '5', '--json']);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(JSON.parse(q.stdout).quotas.maxRunningSandboxes, 3);
    const got = await cli(['team', 'get', teamID]);
    assert.match(got.stdout, /maxRunningSandboxes\s+0\s+3/);
    const bad = await cli(['team', 'quota', teamID, '--max-vcpus', 'lots']);
    assert.equal(bad.code, 2, 'usage error');

    const key = await cli(['key', 'create', '--team', teamID, '--name', 'ci']);
    assert.equal(key.code, 0, key.stderr);
    const plain = key.stdout.trim();
    assert.match(plain, /^e2b_[0-9a-f]{32}$/);
    const keys = JSON.parse((await cli(['key', 'list', '--team', teamID, '--json'])).stdout);
    assert.equal(keys.length, 1);
    assert.equal(keys[0].mask, `e2b_…${plain.slice(-4)}`);

    // The new key works, sees its own team, and may not manage teams (exit code 1 for 403).
    const own = await cli(['team', 'get', teamID, '--json'], { TENSOR_BOX_API_KEY: plain });
    assert.equal(own.code, 0, own.stderr);
    const denied = await cli(['team', 'list'], { TENSOR_BOX_API_KEY: plain });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /only the admin key/);

    assert.equal((await cli(['key', 'revoke', '--team', teamID, keys[0].id])).code, 0);
    const revoked = await cli(['sandbox', 'list'], { TENSOR_BOX_API_KEY: plain });
    assert.equal(revoked.code, 4, 'authentication error');

    assert.equal((await cli(['team', 'delete', teamID])).code, 0);
    assert.equal((await cli(['team', 'get', teamID])).code, 3, 'not found');
  });
});
