/**
 * An in-memory Driver for fast tests of control-plane logic (states, timeouts, failures, races) without root,
 * namespaces or CRIU. Every "sandbox" is a record here; one small HTTP server plays every sandbox's agent (`/init`,
 * `/quiesce`, `/health` under `/fake/<sandboxId>`) and remembers what it was told. Failures are injected per call
 * (`failNext.create = new DriverError(...)`, or `failAlways`), and `gate` can hold a call until the test releases it,
 * to build races. Not for the real suites: nothing here isolates anything.
 */
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DriverError,
  type Checkpointer,
  type Driver,
  type EgressController,
  type Freezer,
  type SandboxRuntimeInfo,
  type SandboxSpec,
  type SandboxStats,
} from '../driver.js';

type Call = 'create' | 'destroy' | 'checkpoint' | 'restore' | 'updateEgress';

export interface FakeSandbox {
  spec: SandboxSpec;
  info: SandboxRuntimeInfo;
  frozen: boolean;
  /** Bodies of the `/init` calls the agent got, oldest first. */
  inits: Record<string, unknown>[];
}

export class FakeDriver implements Driver, Freezer, Checkpointer, EgressController {
  readonly name = 'fake';
  readonly sandboxes = new Map<string, FakeSandbox>();
  /** Every call, in order: `create <id>`, `destroy <id>`, … */
  readonly calls: string[] = [];
  /** The next call of that kind throws this (once). */
  readonly failNext: Partial<Record<Call, Error>> = {};
  /** Every call of that kind throws this, until deleted. */
  readonly failAlways: Partial<Record<Call, Error>> = {};
  /** While set, calls of that kind wait for the promise first. */
  readonly gate: Partial<Record<Call, Promise<void>>> = {};
  private server?: http.Server;
  private port = 0;
  private pid = 1000;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const m = /^\/fake\/([^/]+)\/(init|quiesce|health)$/.exec(req.url ?? '');
      const sbx = m && this.sandboxes.get(m[1]);
      if (!m || !sbx) return void res.writeHead(502).end();
      let body = '';
      req.setEncoding('utf8').on('data', (d) => (body += d));
      req.on('end', () => {
        if (m[2] === 'init') sbx.inits.push(JSON.parse(body || '{}'));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async enter(call: Call, id: string): Promise<void> {
    this.calls.push(`${call} ${id}`);
    await this.gate[call];
    const err = this.failNext[call];
    if (err) {
      delete this.failNext[call];
      throw err;
    }
    if (this.failAlways[call]) throw this.failAlways[call];
  }

  private start1(spec: SandboxSpec): SandboxRuntimeInfo {
    if (this.sandboxes.has(spec.sandboxId))
      throw new DriverError('failed_precondition', `sandbox '${spec.sandboxId}' already exists`);
    const info = {
      sandboxId: spec.sandboxId,
      pid: ++this.pid,
      address: '127.0.0.1',
      envdUrl: `http://127.0.0.1:${this.port}/fake/${spec.sandboxId}`,
      startedAt: new Date(),
    };
    this.sandboxes.set(spec.sandboxId, { spec, info, frozen: false, inits: [] });
    return info;
  }

  async create(spec: SandboxSpec): Promise<SandboxRuntimeInfo> {
    await this.enter('create', spec.sandboxId);
    return this.start1(spec);
  }

  async list(): Promise<SandboxRuntimeInfo[]> {
    return [...this.sandboxes.values()].map((s) => s.info);
  }

  async destroy(sandboxId: string): Promise<void> {
    await this.enter('destroy', sandboxId);
    this.sandboxes.delete(sandboxId);
  }

  async stats(sandboxId: string): Promise<SandboxStats> {
    const s = this.sandboxes.get(sandboxId);
    if (!s) throw new DriverError('not_found', `sandbox '${sandboxId}' is not running`);
    const { cpuCount, memoryMB, diskMB } = s.spec;
    return {
      cpuUsageNs: 0,
      cpuCount,
      memoryUsedBytes: 0,
      memoryCacheBytes: 0,
      memoryLimitBytes: memoryMB << 20,
      diskUsedBytes: 0,
      diskLimitBytes: diskMB << 20,
      pids: 1,
    };
  }

  async freeze(sandboxId: string): Promise<void> {
    this.must(sandboxId).frozen = true;
  }

  async thaw(sandboxId: string): Promise<void> {
    this.must(sandboxId).frozen = false;
  }

  async checkpoint(sandboxId: string, imageDir: string, opts: { leaveRunning?: boolean } = {}): Promise<void> {
    await this.enter('checkpoint', sandboxId);
    const s = this.must(sandboxId);
    mkdirSync(imageDir, { recursive: true });
    writeFileSync(
      path.join(imageDir, 'checkpoint.json'),
      JSON.stringify({ format: 'fake', sandboxId, layers: s.spec.layers }),
    );
    if (!opts.leaveRunning) this.sandboxes.delete(sandboxId);
  }

  async restore(spec: SandboxSpec, imageDir: string): Promise<SandboxRuntimeInfo> {
    await this.enter('restore', spec.sandboxId);
    void imageDir;
    return this.start1(spec);
  }

  imageInUse(): boolean {
    return false;
  }

  async updateEgress(sandboxId: string, rules: { allowOut: string[]; denyOut: string[] }): Promise<void> {
    await this.enter('updateEgress', sandboxId);
    const s = this.must(sandboxId);
    s.spec = { ...s.spec, egress: rules };
  }

  private must(sandboxId: string): FakeSandbox {
    const s = this.sandboxes.get(sandboxId);
    if (!s) throw new DriverError('not_found', `sandbox '${sandboxId}' is not running`);
    return s;
  }
}
