/**
 * The npm packages as users receive them: `npm pack` of the SDK (tensor-box) and the CLI (@tensor-box/cli), installed
 * from the tarballs into fresh projects outside the repository (no workspace, no tsx, no TypeScript loader), then
 *  - a plain ES module script and a CommonJS script create a sandbox on a live server, run a command, write and read
 *    a file, and see the SDK's error classes;
 *  - `tsc --noEmit` checks a TypeScript file against the shipped declarations with moduleResolution node16 (ESM and
 *    CommonJS files) and bundler, and a deliberate type error is reported (the types are not `any`);
 *  - the CLI installed globally answers `--help` and per-command `--help`, and drives a sandbox.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from './helpers/harness.js';
import { exec, execOk } from './helpers/exec.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const version = (pkg: string) =>
  JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
// Versions the repository already has, so npm finds them in its cache; --prefer-offline keeps the test off the network
// when it can.
const NPM_INSTALL = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

let s: TestServer;
let work: string;
let env: Record<string, string>;

/** Packs a workspace package into `work`; returns the tarball's path and the files it holds. */
async function pack(dir: string): Promise<{ tarball: string; files: string[] }> {
  const r = await execOk('npm', ['pack', '--json', '--pack-destination', work], { cwd: path.join(ROOT, dir) });
  const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
  return { tarball: path.join(work, info.filename), files: info.files.map((f: { path: string }) => f.path) };
}

const ESM_APP = `
import { Sandbox, SandboxError, NotFoundError } from 'tensor-box';
const sbx = await Sandbox.create('default', { timeoutMs: 60_000 });
try {
  const r = await sbx.commands.run('echo esm-$((40 + 2))');
  await sbx.files.write('/home/user/esm.txt', 'written by ESM');
  const back = await sbx.files.read('/home/user/esm.txt');
  let missing = '';
  try { await sbx.files.read('/home/user/nope'); } catch (e) { missing = e instanceof NotFoundError && e instanceof \
SandboxError ? 'NotFoundError' : String(e); }
  console.log(JSON.stringify({ stdout: r.stdout, exitCode: r.exitCode, back, missing, resolved: \
import.meta.resolve('tensor-box') }));
} finally {
  await sbx.kill();
}
`;

const CJS_APP = `
const { Sandbox, NotFoundError } = require('tensor-box');
(async () => {
  const sbx = await Sandbox.create('default', { timeoutMs: 60_000 });
  try {
    const r = await sbx.commands.run('echo cjs-$((40 + 2))');
    const info = await sbx.getInfo();
    let missing = '';
    try { await Sandbox.connect('nosuchsandbox0000'); } catch (e) { missing = e instanceof NotFoundError ? \
'NotFoundError' : String(e); }
    console.log(JSON.stringify({ stdout: r.stdout, state: info.state, missing, resolved: \
require.resolve('tensor-box') }));
  } finally {
    await sbx.kill();
  }
})().catch((e) => { console.error(e); process.exit(1); });
`;

const TS_APP = `
import { Sandbox, NotFoundError, type CommandResult, type SandboxOpts } from 'tensor-box';
export async function demo(): Promise<string> {
  const opts: SandboxOpts = { timeoutMs: 60_000, envs: { A: 'b' } };
  const sbx = await Sandbox.create('default', opts);
  const r: CommandResult = await sbx.commands.run('true');
  const code: number = r.exitCode;
  if (new NotFoundError('x') instanceof Error) await sbx.kill();
  return sbx.sandboxId + code;
}
`;

// A mistyped option that the shipped declarations must reject.
const TS_BAD = `
import { Sandbox } from 'tensor-box';
export const p = Sandbox.create('default', { timeoutMs: 'one minute' });
`;

const CTS_APP = `
import { Sandbox } from 'tensor-box';
export const create = (): Promise<Sandbox> => Sandbox.create('default');
`;

function tsconfig(module: string, moduleResolution: string, files: string[]) {
  return JSON.stringify({
    compilerOptions: { module, moduleResolution, target: 'ES2022', strict: true, noEmit: true, types: ['node'] },
    files,
  });
}

before(async () => {
  s = await startTestServer();
  env = { TENSOR_BOX_DOMAIN: s.url, TENSOR_BOX_API_KEY: s.apiKey };
  work = mkdtempSync(path.join(os.tmpdir(), 'tb-packaging-'));
});
after(async () => {
  await s?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('tensor-box SDK from its npm tarball', () => {
  let app: string;

  before(async () => {
    const { tarball, files } = await pack('packages/sdk');
    const shipped = ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'README.md', 'LICENSE'];
    for (const f of shipped) {
      assert.ok(files.includes(f), `the tarball has ${f}: ${files.join(', ')}`);
    }
    assert.ok(!files.some((f) => f.startsWith('src/')), `the tarball ships no sources: ${files.join(', ')}`);
    app = path.join(work, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const tools = [`typescript@${version('typescript')}`, `@types/node@${version('@types/node')}`];
    await execOk('npm', [...NPM_INSTALL, tarball, ...tools], {
      cwd: app,
      timeoutMs: 240_000,
    });
  });

  it('a plain ES module script creates a sandbox and runs a command', async () => {
    writeFileSync(path.join(app, 'app.mjs'), ESM_APP);
    const r = await execOk(process.execPath, ['app.mjs'], { cwd: app, env, timeoutMs: 120_000 });
    const out = JSON.parse(r.stdout);
    assert.equal(out.stdout, 'esm-42\n');
    assert.equal(out.exitCode, 0);
    assert.equal(out.back, 'written by ESM');
    assert.equal(out.missing, 'NotFoundError');
    assert.match(out.resolved, /\/app\/node_modules\/tensor-box\/dist\/index\.js$/);
  });

  it('a CommonJS script does the same through require', async () => {
    writeFileSync(path.join(app, 'app.cjs'), CJS_APP);
    const r = await execOk(process.execPath, ['app.cjs'], { cwd: app, env, timeoutMs: 120_000 });
    const out = JSON.parse(r.stdout);
    assert.equal(out.stdout, 'cjs-42\n');
    assert.equal(out.state, 'running');
    assert.equal(out.missing, 'NotFoundError');
    assert.match(out.resolved, /\/app\/node_modules\/tensor-box\/dist\/index\.cjs$/);
  });

  it('tsc --noEmit takes typed use (moduleResolution node16 and bundler) and rejects a mistyped option', async () => {
    writeFileSync(path.join(app, 'app.ts'), TS_APP);
    writeFileSync(path.join(app, 'app-cjs.cts'), CTS_APP);
    writeFileSync(path.join(app, 'bad.ts'), TS_BAD);
    writeFileSync(path.join(app, 'tsconfig.node16.json'), tsconfig('node16', 'node16', ['app.ts', 'app-cjs.cts']));
    writeFileSync(path.join(app, 'tsconfig.bundler.json'), tsconfig('esnext', 'bundler', ['app.ts']));
    writeFileSync(path.join(app, 'tsconfig.bad.json'), tsconfig('node16', 'node16', ['bad.ts']));
    const tsc = path.join(app, 'node_modules/.bin/tsc');
    await execOk(tsc, ['-p', 'tsconfig.node16.json'], { cwd: app });
    await execOk(tsc, ['-p', 'tsconfig.bundler.json'], { cwd: app });
    const bad = await exec(tsc, ['-p', 'tsconfig.bad.json'], { cwd: app });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout, /bad\.ts.*error TS2322.*not assignable to type 'number/s);
  });
});

describe('tensor-box CLI from its npm tarball, installed globally', () => {
  let bin: string;

  before(async () => {
    const { tarball, files } = await pack('packages/cli');
    assert.ok(files.includes('dist/tensor-box.js'), files.join(', '));
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('bin/')), files.join(', '));
    const prefix = path.join(work, 'global');
    await execOk('npm', [...NPM_INSTALL, '--global', '--prefix', prefix, tarball], { cwd: work, timeoutMs: 240_000 });
    bin = path.join(prefix, 'bin', 'tensor-box');
  });

  it('answers --help and per-command --help', async () => {
    const top = await execOk(bin, ['--help'], { cwd: work });
    assert.match(top.stdout, /usage: tensor-box <command>/);
    assert.match(top.stdout, /sandbox create/);
    assert.match(top.stdout, /template build/);
    const create = await execOk(bin, ['sandbox', 'create', '--help'], { cwd: work });
    assert.match(create.stdout, /usage: tensor-box sandbox create \[template\]/);
    assert.match(create.stdout, /--timeout-ms <value>/);
    assert.match(create.stdout, /--env <value>\s+\(repeatable\)/);
    const exec_ = await execOk(bin, ['sbx', 'exec', '-h'], { cwd: work });
    assert.match(exec_.stdout, /usage: tensor-box sandbox exec <id> -- <command\.\.\.>/);
    const noun = await execOk(bin, ['template', '--help'], { cwd: work });
    assert.match(noun.stdout, /template build/);
    assert.doesNotMatch(noun.stdout, /sandbox create/);
    const unknown = await exec(bin, ['sandbox', 'explode'], { cwd: work });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'sandbox explode'/);
  });

  it('creates a sandbox, runs a command in it and kills it', async () => {
    const created = await execOk(bin, ['sandbox', 'create', 'default', '--timeout-ms', '60000'], { cwd: work, env });
    const id = created.stdout.trim();
    assert.match(id, /^[a-z0-9]+$/);
    const cmd = ['sh', '-c', 'echo cli-$((40 + 2))'];
    const ran = await execOk(bin, ['sandbox', 'exec', id, '--', ...cmd], { cwd: work, env });
    assert.equal(ran.stdout, 'cli-42\n');
    await execOk(bin, ['sandbox', 'kill', id], { cwd: work, env });
    const gone = await exec(bin, ['sandbox', 'info', id], { cwd: work, env });
    assert.equal(gone.code, 3, gone.stderr);
  });
});
