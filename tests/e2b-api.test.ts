/**
 * The stock `e2b` npm SDK against the control-plane features of E2B's API that go beyond create/kill: list filters and
 * order, template tags. Pointed at the server with E2B_API_URL / E2B_SANDBOX_URL / E2B_API_KEY, as a self-hosting
 * user would (tests/e2b-compat.test.ts has the basics).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, Template } from 'e2b';
import { startTestServer, type TestServer } from './helpers/harness.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
  process.env.E2B_API_URL = s.url;
  process.env.E2B_SANDBOX_URL = s.url;
  process.env.E2B_API_KEY = s.apiKey;
});
after(async () => {
  await s?.close();
});

describe('stock e2b SDK: API', () => {
  it('Sandbox.list: order, startedAfter and template filters', async () => {
    const metadata = { suite: `list-${process.pid}` };
    const first = await Sandbox.create({ timeoutMs: 60_000, metadata });
    await new Promise((r) => setTimeout(r, 20)); // distinct start times
    const second = await Sandbox.create('default', { timeoutMs: 60_000, metadata });
    try {
      const list = async (opts: Parameters<typeof Sandbox.list>[0] = {}) =>
        (await Sandbox.list({ ...opts, query: { metadata, ...opts.query } }).nextItems()).map((x) => x.sandboxId);
      const [a, b] = [first.sandboxId, second.sandboxId];
      assert.deepEqual(await list(), [b, a], 'newest first by default');
      assert.deepEqual(await list({ order: 'desc' }), [b, a]);
      assert.deepEqual(await list({ order: 'asc' }), [a, b]);
      const secondInfo = await second.getInfo();
      assert.deepEqual(await list({ query: { startedAfter: secondInfo.startedAt } }), [b], 'at or after');
      assert.deepEqual(await list({ query: { startedAfter: new Date(Date.now() + 60_000) } }), []);
      for (const template of ['base', 'default', secondInfo.templateId]) {
        assert.deepEqual(await list({ query: { template }, order: 'asc' }), [a, b], template);
      }
      assert.deepEqual(await list({ query: { template: 'no-such-template' } }), []);
      // Paging in ascending order goes on from the cursor in that order.
      const pager = Sandbox.list({ query: { metadata }, order: 'asc', limit: 1 });
      assert.deepEqual(
        (await pager.nextItems()).map((x) => x.sandboxId),
        [a],
      );
      assert.deepEqual(
        (await pager.nextItems()).map((x) => x.sandboxId),
        [b],
      );

      const bad = await fetch(`${s.url}/v2/sandboxes?startedAfter=yesterday`, { headers: { 'X-API-Key': s.apiKey } });
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).message, /startedAfter/);
      await assert.rejects(Sandbox.list({ order: 'sideways' as 'asc' }).nextItems(), /400: order must be/);
    } finally {
      await first.kill();
      await second.kill();
    }
  });

  it('template tags: build name:tag, create by name:tag, assignTags, getTags, removeTags', async () => {
    const name = `e2b-tags-${process.pid}`;
    const build = (v: string, tags?: string[]) =>
      Template.build(Template().fromTemplate('base').runCmd(`echo ${v} > /home/user/v.txt`), `${name}:${v}`, { tags });
    const read = async (ref: string) => {
      const sbx = await Sandbox.create(ref, { timeoutMs: 60_000 });
      try {
        return (await sbx.files.read('/home/user/v.txt')).trim();
      } finally {
        await sbx.kill();
      }
    };
    const v1 = await build('v1');
    const v2 = await build('v2', ['candidate']);
    try {
      assert.equal(v2.templateId, v1.templateId, 'one template, two builds');
      assert.equal(await read(`${name}:v1`), 'v1');
      assert.equal(await read(`${name}:v2`), 'v2');
      assert.equal(await read(`${name}:candidate`), 'v2');
      assert.equal(await read(name), 'v1', 'the plain name stays on the first ready build until `default` moves');

      const assigned = await Template.assignTags(`${name}:v2`, ['production', 'default']);
      assert.equal(assigned.buildId, v2.buildId);
      assert.deepEqual([...assigned.tags].sort(), ['default', 'production']);
      assert.equal(await read(name), 'v2');
      assert.equal(await read(`${name}:v1`), 'v1', 'an older build stays reachable by its tag');

      const tags = await Template.getTags(name);
      const byTag = Object.fromEntries(tags.map((t) => [t.tag, t.buildId]));
      assert.deepEqual(byTag, {
        candidate: v2.buildId,
        default: v2.buildId,
        production: v2.buildId,
        v1: v1.buildId,
        v2: v2.buildId,
      });
      assert.ok(tags.every((t) => t.createdAt instanceof Date && !Number.isNaN(t.createdAt.getTime())));

      await Template.removeTags(name, ['production', 'candidate']);
      assert.deepEqual(
        (await Template.getTags(v1.templateId)).map((t) => t.tag),
        ['default', 'v1', 'v2'],
      );
      await assert.rejects(Sandbox.create(`${name}:production`), /not found/i);
      await assert.rejects(Template.removeTags(name, ['default']), /cannot delete the 'default' tag/);
      await assert.rejects(Template.assignTags(`${name}:nope`, ['x']), /no tag 'nope'/);
      await assert.rejects(Template.assignTags(`${name}:v1`, ['Not A Tag!']), /invalid tag/);
      await assert.rejects(Template.getTags('no-such-template'), /not found/i);
    } finally {
      await fetch(`${s.url}/templates/${v1.templateId}`, { method: 'DELETE', headers: { 'X-API-Key': s.apiKey } });
    }
  });

  it(
    'default template: python and pip as on E2B; USER creates ' + "a missing user; RUN as an unknown user: E2B's error",
    async () => {
      const sbx = await Sandbox.create({ timeoutMs: 60_000 });
      try {
        const r = await sbx.commands.run(
          'python -c "import sys; print(sys.version_info[0])" && pip --version && ' +
            'python -m venv --help >/dev/null && echo venv',
        );
        assert.match(r.stdout, /^3\npip \d+.*\nvenv\n$/);
      } finally {
        await sbx.kill();
      }
      const name = `e2b-user-${process.pid}`;
      const built = await Template.build(
        Template().fromTemplate('base').setUser('builder').runCmd('whoami > /tmp/who.txt'),
        name,
      );
      try {
        const u = await Sandbox.create(name, { timeoutMs: 60_000 });
        try {
          assert.equal(
            (await u.commands.run('cat /tmp/who.txt; whoami; echo $HOME')).stdout,
            'builder\nbuilder\n/home/builder\n',
          );
        } finally {
          await u.kill();
        }
      } finally {
        await fetch(`${s.url}/templates/${built.templateId}`, { method: 'DELETE', headers: { 'X-API-Key': s.apiKey } });
      }
      await assert.rejects(
        Template.build(Template().fromTemplate('base').runCmd('whoami', { user: 'root123' }), `${name}-bad`),
        (e: Error) =>
          e.message.includes(
            "failed to run command 'whoami': command failed: unauthenticated: invalid username: 'root123'",
          ),
      );
    },
  );
});
