/**
 * The TypeScript conformance runner's operations for the SDK surface of issue 16 (conformance/README.md): fork,
 * snapshots, list pages, signed file URLs, terminals re-attached by pid, and the fluent template builder.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tb from 'tensor-box';

/** What an op needs of the runner's state. */
export interface ParityRun {
  conn: { domain: string; apiKey: string };
  sandbox(): tb.Sandbox;
  setSandbox(s: tb.Sandbox): void;
  created: string[];
  builds: Map<string, { templateID: string; buildID: string }>;
  ptys: Map<string, { pty: tb.PtyHandle; output: string }>;
}

const decoder = new TextDecoder();

async function attach(run: ParityRun, name: string, make: (onData: (d: Uint8Array) => void) => Promise<tb.PtyHandle>) {
  const entry = { pty: undefined as unknown as tb.PtyHandle, output: '' };
  entry.pty = await make((d) => {
    entry.output += decoder.decode(d, { stream: true });
  });
  run.ptys.set(name, entry);
  return entry.pty;
}

function readyCmd(r: Record<string, any> | string | undefined): string | undefined {
  if (r === undefined || typeof r === 'string') return r;
  if (r.waitForPort !== undefined) return tb.waitForPort(r.waitForPort);
  if (r.waitForFile !== undefined) return tb.waitForFile(r.waitForFile);
  if (r.waitForURL !== undefined) return tb.waitForURL(r.waitForURL, r.statusCode);
  throw new Error(`unknown readyCmd ${JSON.stringify(r)}`);
}

/** Builds `Template()` from the scenario's description; `files` are written to a fresh file context first. */
function definition(a: Record<string, any>): tb.TemplateBuilder {
  const ctx = mkdtempSync(path.join(os.tmpdir(), 'tb-conf-ctx-'));
  for (const [p, data] of Object.entries<string>(a.files ?? {})) {
    mkdirSync(path.dirname(path.join(ctx, p)), { recursive: true });
    writeFileSync(path.join(ctx, p), data);
  }
  const t = tb.Template({ fileContextPath: ctx });
  if (a.fromTemplate) t.fromTemplate(a.fromTemplate);
  if (a.fromImage) t.fromImage(a.fromImage);
  for (const s of a.steps ?? []) {
    const [kind, v] = Object.entries<any>(s)[0];
    if (kind === 'copy') t.copy(v.src, v.dest, { user: v.user, mode: v.mode });
    else if (kind === 'runCmd') t.runCmd(v);
    else if (kind === 'setEnvs') t.setEnvs(v);
    else if (kind === 'setWorkdir') t.setWorkdir(v);
    else if (kind === 'setUser') t.setUser(v);
    else if (kind === 'aptInstall') t.aptInstall(v);
    else if (kind === 'pipInstall') t.pipInstall(v);
    else throw new Error(`unknown template step '${kind}'`);
  }
  if (a.startCmd) t.setStartCmd(a.startCmd, readyCmd(a.readyCmd));
  return t;
}

/** Runs a parity op; undefined when `op` is not one of them. */
export async function parityOp(
  run: ParityRun,
  op: string,
  a: Record<string, any>,
): Promise<{ result: any } | undefined> {
  const c = run.conn;
  switch (op) {
    case 'sandbox.listPage': {
      const p = tb.Sandbox.list({
        ...c,
        query: { state: a.state, metadata: a.metadata, template: a.template },
        order: a.order,
        limit: a.limit,
      });
      const items = await p.nextItems();
      return { result: { count: items.length, hasNext: p.hasNext } };
    }
    case 'sandbox.fork': {
      const copies = await run.sandbox().fork({ count: a.count });
      run.created.push(...copies.map((x) => x.sandboxId));
      if (a.use && copies[0]) run.setSandbox(copies[0]);
      return { result: copies.map((x) => ({ sandboxId: x.sandboxId })) };
    }
    case 'snapshot.create': {
      const s = await run.sandbox().createSnapshot(a.name);
      return { result: { snapshotId: s.snapshotId, name: s.name } };
    }
    case 'snapshot.list':
      return {
        result: (await tb.Snapshot.list({ ...c, sandboxId: a.sandboxId, name: a.name })).map((s) => ({
          snapshotId: s.snapshotId,
          name: s.name,
        })),
      };
    case 'snapshot.delete':
      return { result: await tb.Snapshot.delete(a.snapshot, c) };
    case 'files.downloadUrl': {
      const res = await fetch(run.sandbox().downloadUrl(a.path, { user: a.user }));
      return { result: { status: res.status, body: await res.text() } };
    }
    case 'files.uploadUrl': {
      const res = await fetch(run.sandbox().uploadUrl(a.path, { user: a.user }), {
        method: 'POST',
        body: a.data,
        headers: { 'content-type': 'application/octet-stream' },
      });
      await res.arrayBuffer();
      return { result: { status: res.status } };
    }
    case 'pty.create': {
      const pty = await attach(run, a.save, (onData) =>
        run.sandbox().pty.create({ cols: 80, rows: 24, onData, cmd: a.cmd }),
      );
      return { result: { pid: pty.pid } };
    }
    case 'pty.connect': {
      const pid = a.pid ?? run.ptys.get(a.handle)?.pty.pid;
      const pty = await attach(run, a.handle ?? String(pid), (onData) => run.sandbox().pty.connect(pid, { onData }));
      return { result: { pid: pty.pid } };
    }
  }
  if (!op.startsWith('pty.') && op !== 'template.build') return undefined;
  if (op === 'template.build') {
    const t = definition(a);
    const info = await tb.Template.build(t, { ...c, alias: a.alias, cpuCount: a.cpuCount, memoryMB: a.memoryMB });
    run.builds.set(a.save ?? a.alias, info);
    return { result: { templateID: info.templateID, buildID: info.buildID, status: info.status } };
  }
  const h = run.ptys.get(a.handle);
  if (!h) throw new Error(`no saved terminal '${a.handle}'`);
  switch (op) {
    case 'pty.sendInput':
      return { result: await h.pty.sendInput(a.data) };
    case 'pty.disconnect':
      return { result: h.pty.disconnect() };
    case 'pty.kill':
      return { result: await h.pty.kill() };
    case 'pty.waitOutput': {
      const deadline = Date.now() + (a.timeoutMs ?? 10_000);
      while (!h.output.includes(a.contains)) {
        if (Date.now() > deadline)
          throw new tb.TimeoutError(`'${a.contains}' not in the terminal's output: ${JSON.stringify(h.output)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return { result: true };
    }
  }
  throw new Error(`unknown op '${op}'`);
}
