/**
 * The Python SDK as users receive it: `python -m build` makes a wheel and an sdist of sdks/python; the wheel goes into
 * a fresh virtual environment outside the repository, where a script (run from outside the checkout, so it cannot
 * import the sources) creates a sandbox on a live server, runs a command, writes and reads a file and kills it; mypy
 * sees the installed package as typed (py.typed) and reports a deliberate type error in a user's script.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from './helpers/harness.js';
import { exec, execOk } from './helpers/exec.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = process.env.PYTHON || 'python3';
const PIP = ['-m', 'pip', 'install', '-q', '--disable-pip-version-check'];

let s: TestServer;
let work: string;
let dist: string;

const ROUND_TRIP = `
import json, tensor_box
from tensor_box import Sandbox, NotFoundException
sbx = Sandbox.create("default", timeout_ms=60_000)
try:
    r = sbx.commands.run("echo py-$((40 + 2))")
    sbx.files.write("/home/user/py.txt", "written by the wheel")
    back = sbx.files.read("/home/user/py.txt")
    try:
        sbx.files.read("/home/user/nope")
        missing = "no error"
    except NotFoundException:
        missing = "NotFoundException"
    print(json.dumps({"stdout": r.stdout, "exit_code": r.exit_code, "back": back, "missing": missing,
                      "module": tensor_box.__file__}))
finally:
    sbx.kill()
`;

// Foreground runs are typed CommandResult, background ones CommandHandle; line 11 is a deliberate error.
const TYPED = `
from tensor_box import Sandbox, CommandResult, CommandHandle

def run(sbx: Sandbox) -> int:
    r: CommandResult = sbx.commands.run("true")
    h: CommandHandle = sbx.commands.run("sleep 1", background=True)
    h.kill()
    return r.exit_code

def wrong(sbx: Sandbox) -> str:
    return sbx.commands.run("true").exit_code
`;

/** The names in a zip (a wheel), or one member's text; with Python's zipfile, so no unzip program is needed. */
async function unzip(zip: string, member?: string): Promise<string> {
  const code =
    'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); ' +
    'print(z.read(sys.argv[2]).decode() if len(sys.argv) > 2 else "\\n".join(z.namelist()))';
  return (await execOk(PYTHON, ['-c', code, zip, ...(member ? [member] : [])])).stdout;
}

before(async () => {
  s = await startTestServer();
  work = mkdtempSync(path.join(os.tmpdir(), 'tb-packaging-py-'));
  dist = path.join(work, 'dist');
  await execOk(PYTHON, ['-m', 'venv', path.join(work, 'tools')]);
  await execOk(path.join(work, 'tools/bin/python'), [...PIP, 'build', 'mypy'], { timeoutMs: 240_000 });
});
after(async () => {
  await s?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('tensor-box Python SDK from its wheel', () => {
  let wheel: string;
  let py: string;

  it('python -m build makes a wheel and an sdist with py.typed and the licence', async () => {
    const build = ['-m', 'build', '--outdir', dist, path.join(ROOT, 'sdks/python')];
    await execOk(path.join(work, 'tools/bin/python'), build, {
      timeoutMs: 240_000,
    });
    const files = readdirSync(dist).sort();
    assert.deepEqual(files, ['tensor_box-0.1.0-py3-none-any.whl', 'tensor_box-0.1.0.tar.gz']);
    wheel = path.join(dist, files[0]);
    const listing = (await unzip(wheel)).split('\n');
    for (const f of ['tensor_box/__init__.py', 'tensor_box/py.typed', 'tensor_box-0.1.0.dist-info/METADATA']) {
      assert.ok(listing.includes(f), `the wheel has ${f}`);
    }
    const licence = listing.some((f) => /dist-info\/licenses\/LICENSE$/.test(f));
    assert.ok(licence, `the wheel has the licence: ${listing.join(' ')}`);
    assert.ok(!listing.some((f) => f.startsWith('tests/') || f.includes('.venv')), 'no tests or venv in the wheel');
    const sdist = (await execOk('tar', ['tzf', path.join(dist, files[1])])).stdout;
    assert.match(sdist, /tensor_box-0\.1\.0\/tensor_box\/py\.typed/);
    assert.doesNotMatch(sdist, /\.venv|__pycache__/);
    const meta = await unzip(wheel, 'tensor_box-0.1.0.dist-info/METADATA');
    assert.match(meta, /^Requires-Dist: httpx/m);
    assert.match(meta, /Apache-2\.0/);
  });

  it('installs into a fresh venv and runs a sandbox round trip against a live server', async () => {
    assert.ok(wheel, 'the wheel was built');
    const venv = path.join(work, 'user');
    await execOk(PYTHON, ['-m', 'venv', venv]);
    py = path.join(venv, 'bin/python');
    await execOk(py, [...PIP, wheel], { timeoutMs: 240_000 });
    writeFileSync(path.join(work, 'round_trip.py'), ROUND_TRIP);
    const r = await execOk(py, ['round_trip.py'], {
      cwd: work,
      env: { TENSOR_BOX_DOMAIN: s.url, TENSOR_BOX_API_KEY: s.apiKey, PYTHONPATH: undefined },
      timeoutMs: 120_000,
    });
    const out = JSON.parse(r.stdout);
    assert.equal(out.stdout, 'py-42\n');
    assert.equal(out.exit_code, 0);
    assert.equal(out.back, 'written by the wheel');
    assert.equal(out.missing, 'NotFoundException');
    assert.ok(out.module.startsWith(path.join(venv, 'lib')), `imported from the venv: ${out.module}`);
  });

  it('mypy reads the installed package as typed', async () => {
    assert.ok(py, 'the wheel was installed');
    writeFileSync(path.join(work, 'typed.py'), TYPED);
    const mypy = path.join(work, 'tools/bin/mypy');
    const r = await exec(mypy, ['--python-executable', py, '--strict', 'typed.py'], { cwd: work });
    assert.doesNotMatch(r.stdout, /missing library stubs or py\.typed marker/);
    assert.match(r.stdout, /typed\.py:11: error: Incompatible return value type \(got "int", expected "str"\)/);
    assert.match(r.stdout, /Found 1 error in 1 file/);
  });
});
