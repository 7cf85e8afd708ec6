/**
 * Conformance runner for the TypeScript SDK: executes every scenario in conformance/scenarios/*.yaml (see
 * conformance/README.md) against a live server. Unknown ops fail the scenario.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import * as tb from 'tensor-box';
import { httpGet, startTestServer, type TestServer } from '../../tests/helpers/harness.js';
import { parityOp, type ParityRun } from './parity-ops.js';

interface Step {
  op: string;
  args?: Record<string, any>;
  expect?: Record<string, any>;
  expectError?: string;
}
interface Scenario {
  name: string;
  steps: Step[];
}

const DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));
const scenarios: Scenario[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => YAML.parse(readFileSync(DIR + f, 'utf8')));

const ERROR_KINDS: Record<string, new (...a: any[]) => Error> = {
  NotFound: tb.NotFoundError,
  InvalidArgument: tb.InvalidArgumentError,
  Authentication: tb.AuthenticationError,
  Timeout: tb.TimeoutError,
  CommandExit: tb.CommandExitError,
  Conflict: tb.ConflictError,
  NotEnoughSpace: tb.NotEnoughSpaceError,
  Build: tb.BuildError,
};

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

/** Checks `expect` against a result per the README's rules. */
function check(result: any, expect: Record<string, any>, where: string) {
  for (const [key, want] of Object.entries(expect)) {
    if (Array.isArray(result) && key === 'length') assert.equal(result.length, want, `${where}: length`);
    else if (Array.isArray(result) && key === 'contains') {
      for (const w of want)
        assert.ok(
          result.some((r) => Object.entries(w).every(([k, v]) => isDeepStrictEqual(r[k], v))),
          `${where}: contains ${JSON.stringify(w)} in ${JSON.stringify(result)}`,
        );
    } else if (key === 'value') assert.deepEqual(result, want, `${where}: value`);
    else assert.deepEqual(result?.[key], want, `${where}: ${key}`);
  }
}
function isDeepStrictEqual(a: unknown, b: unknown) {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

class Run implements ParityRun {
  sbx?: tb.Sandbox;
  ptys = new Map<string, { pty: tb.PtyHandle; output: string }>();
  /** Every sandbox the scenario created, killed at its end; then the templates it made are deleted (newest first). */
  created: string[] = [];
  handles = new Map<string, tb.CommandHandle>();
  builds = new Map<string, { templateID: string; buildID: string }>();
  runId = Math.random().toString(36).slice(2, 12);
  constructor(readonly conn: { domain: string; apiKey: string }) {}

  sandbox(): tb.Sandbox {
    if (!this.sbx) throw new Error('no sandbox created yet in this scenario');
    return this.sbx;
  }

  setSandbox(s: tb.Sandbox) {
    this.sbx = s;
  }

  async cleanup() {
    for (const p of this.ptys.values()) p.pty.disconnect();
    for (const id of this.created) await tb.Sandbox.kill(id, this.conn).catch(() => {});
    for (const b of [...this.builds.values()].reverse())
      await tb.Template.delete(b.templateID, this.conn).catch(() => {});
  }

  subst(v: any): any {
    if (typeof v === 'string') {
      return v
        .replace(/\$\{runId\}/g, this.runId)
        .replace(/\$\{sandboxId\}/g, this.sbx?.sandboxId ?? '')
        .replace(/\$\{host:(\d+)\}/g, (_m, p) => this.sbx!.getHost(Number(p)));
    }
    if (Array.isArray(v)) return v.map((x) => this.subst(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.subst(x)]));
    return v;
  }

  async exec(step: Step): Promise<any> {
    const a = this.subst(step.args ?? {});
    const c = this.conn;
    const s = () => {
      if (!this.sbx) throw new Error('no sandbox created yet in this scenario');
      return this.sbx;
    };
    switch (step.op) {
      case 'sandbox.create': {
        const sbx = await tb.Sandbox.create(a.template ?? 'default', {
          ...c,
          timeoutMs: a.timeoutMs,
          envs: a.envs,
          metadata: a.metadata,
          lifecycle: a.lifecycle,
        });
        this.created.push(sbx.sandboxId);
        if (!this.sbx || a.use) this.sbx = sbx;
        return { sandboxId: sbx.sandboxId, templateId: sbx.templateId };
      }
      case 'sandbox.connect':
        await tb.Sandbox.connect(a.sandboxId ?? s().sandboxId, c);
        return undefined;
      case 'sandbox.kill':
        await tb.Sandbox.kill(a.sandboxId ?? s().sandboxId, c);
        return undefined;
      case 'sandbox.killById':
        return tb.Sandbox.kill(a.sandboxId, c);
      case 'sandbox.getInfo':
        return s().getInfo();
      case 'sandbox.isRunning':
        return s().isRunning();
      case 'sandbox.setTimeout':
        return s().setTimeout(a.timeoutMs);
      case 'sandbox.keepAlive':
        return s().keepAlive(a.timeoutMs);
      case 'sandbox.list':
        return tb.Sandbox.list({
          ...c,
          query: { state: a.state, metadata: a.metadata, template: a.template },
          order: a.order,
          limit: a.limit,
        });
      case 'sandbox.pause':
        return s().pause({ keepMemory: a.keepMemory });
      case 'sandbox.resume':
        return s().resume(a.timeoutMs);
      case 'sandbox.getHost':
        return s().getHost(a.port);
      case 'commands.run': {
        const r = await s().commands.run(a.cmd, { envs: a.envs, cwd: a.cwd, user: a.user, timeoutMs: a.timeoutMs });
        return r;
      }
      case 'commands.runBackground': {
        const h = await s().commands.run(a.cmd, { background: true });
        if (a.save) this.handles.set(a.save, h);
        return { pid: h.pid };
      }
      case 'commands.kill':
        return this.handles.get(a.handle)!.kill();
      case 'commands.wait':
        return this.handles.get(a.handle)!.wait();
      case 'files.write':
        return a.files ? s().files.write(a.files) : s().files.write(a.path, a.data);
      case 'files.read':
        return a.format === 'bytes'
          ? new TextDecoder().decode(await s().files.read(a.path, { format: 'bytes' }))
          : s().files.read(a.path);
      case 'files.list':
        return s().files.list(a.path);
      case 'files.makeDir':
        return s().files.makeDir(a.path);
      case 'files.exists':
        return s().files.exists(a.path);
      case 'files.rename':
        return s().files.rename(a.from, a.to);
      case 'files.remove':
        return s().files.remove(a.path);
      case 'files.getInfo':
        return s().files.getInfo(a.path);
      case 'http.get': {
        const deadline = Date.now() + 10_000;
        let last: any;
        do {
          // node:http, not fetch: fetch drops a caller-set Host header.
          last = await httpGet(`${c.domain}${a.path}`, a.host);
          if (
            !step.expect ||
            isDeepStrictEqual(Object.fromEntries(Object.keys(step.expect).map((k) => [k, last[k]])), step.expect)
          )
            break;
          await new Promise((r) => setTimeout(r, 200));
        } while (Date.now() < deadline);
        return last;
      }
      case 'sandbox.commitAsTemplate': {
        const r = await s().commitAsTemplate(a.name, {
          cpuCount: a.cpuCount,
          memoryMB: a.memoryMB,
          wait: a.wait,
          intervalMs: 200,
        });
        this.builds.set(a.save ?? a.name, r);
        return r;
      }
      default: {
        const parity = await parityOp(this, step.op, a);
        if (parity) return parity.result;
        if (step.op.startsWith('template.')) return this.templateOp(step.op, a);
        throw new Error(`unknown op '${step.op}'`);
      }
    }
  }

  /**
   * Template ops: builds are saved under `save` and named by `build`; a build's reason is flattened to step, exitCode.
   */
  async templateOp(op: string, a: Record<string, any>): Promise<any> {
    const c = this.conn;
    const build = (st: tb.TemplateBuildStatus) => ({
      templateID: st.templateID,
      buildID: st.buildID,
      status: st.status,
      step: st.reason?.step,
      exitCode: st.reason?.exitCode,
    });
    const tpl = (t: tb.TemplateInfo | tb.TemplateDetails) => ({
      templateID: t.templateID,
      buildID: t.buildID,
      buildStatus: t.buildStatus,
      cpuCount: t.cpuCount,
      memoryMB: t.memoryMB,
      names: t.names,
      builds: 'builds' in t ? t.builds.length : 0,
    });
    switch (op) {
      case 'template.listBaseImages':
        return tb.Template.listBaseImages(c);
      case 'template.create': {
        const r = await tb.Template.create(
          { name: a.name, cpuCount: a.cpuCount, memoryMB: a.memoryMB, diskGB: a.diskGB },
          c,
        );
        this.builds.set(a.save ?? a.name, r);
        return r;
      }
      case 'template.list':
        return (await tb.Template.list(c))
          .filter((t) => !a.name || [...t.names, ...t.aliases].some((n) => n === a.name || n.startsWith(`${a.name}:`)))
          .map(tpl);
      case 'template.get':
        return tpl(await tb.Template.get(a.template, c));
      case 'template.exists':
        return tb.Template.exists(a.name, c);
      case 'template.delete':
        return tb.Template.delete(a.template, c);
    }
    const b = this.builds.get(a.build);
    if (!b) throw new Error(`no saved build '${a.build}'`);
    switch (op) {
      case 'template.startBuild':
        return tb.Template.startBuild(
          b.templateID,
          b.buildID,
          {
            fromTemplate: a.fromTemplate,
            fromImage: a.fromImage,
            steps: a.steps,
            startCmd: a.startCmd,
            readyCmd: a.readyCmd,
          },
          c,
        );
      case 'template.waitForBuild':
        return build(await tb.Template.waitForBuild(b.templateID, b.buildID, { intervalMs: 200 }, c));
      case 'template.getBuildStatus':
        return build(await tb.Template.getBuildStatus(b.templateID, b.buildID, {}, c));
      case 'template.getBuildLogs':
        return (await tb.Template.getBuildLogs(b.templateID, b.buildID, {}, c)).logs.map((e) => ({
          level: e.level,
          message: e.message,
          step: e.step,
        }));
    }
    throw new Error(`unknown op '${op}'`);
  }
}

describe('conformance (TypeScript SDK)', () => {
  for (const sc of scenarios) {
    it(sc.name, async () => {
      const run = new Run(server.conn);
      try {
        for (const [i, step] of sc.steps.entries()) {
          const where = `${sc.name} step ${i + 1} (${step.op})`;
          if (step.expectError) {
            const err = await run.exec(step).then(
              () => undefined,
              (e) => e,
            );
            assert.ok(err, `${where}: expected ${step.expectError}, got success`);
            assert.ok(
              err instanceof ERROR_KINDS[step.expectError],
              `${where}: expected ${step.expectError}, got ${err?.name}: ${err?.message}`,
            );
            if (step.expect) check(err, step.expect, where);
          } else {
            const result = await run.exec(step);
            if (step.expect) check(result, step.expect, where);
          }
        }
      } finally {
        await run.cleanup();
      }
    });
  }
});
