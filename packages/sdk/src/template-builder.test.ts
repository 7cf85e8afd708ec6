/**
 * The fluent template builder without a server: the build request each method makes, the errors an invalid definition
 * raises at once (so nothing is created), the deterministic tar of `copy` (read back by the system tar, symlinks kept),
 * and the synchronous SHA-256 behind `downloadUrl`/`uploadUrl` against node:crypto.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, Template, TemplateBuilder, waitForFile, waitForPort, waitForURL } from './index.js';
import { packTar } from './tar-pack.js';
import { sha256 } from './sha256.js';

describe('Template() builder', () => {
  it('makes the API steps in order, with the source, start and ready commands', () => {
    const t = Template()
      .fromTemplate('default')
      .copy('app', '/app', { user: 'user', mode: 0o755 })
      .runCmd(['echo a', 'echo b'])
      .setEnvs({ A: '1', B: 'two words' })
      .setWorkdir('/app')
      .setUser('svc')
      .aptInstall(['jq', 'curl'])
      .pipInstall('requests==2.*')
      .npmInstall('left-pad', { g: true })
      .setStartCmd('python3 -m http.server 8000', waitForPort(8000));
    assert.ok(t instanceof TemplateBuilder);
    const r = t.toBuildRequest();
    assert.equal(r.fromTemplate, 'default');
    assert.equal(r.startCmd, 'python3 -m http.server 8000');
    assert.equal(r.readyCmd, "ss -tuln | grep -q ':8000\\b'");
    assert.deepEqual(
      r.steps.map((s) => [s.type, s.args]),
      [
        ['COPY', ['app', '/app', 'user', '0755']],
        ['RUN', ['echo a && echo b']],
        ['ENV', ['A', '1', 'B', 'two words']],
        ['WORKDIR', ['/app']],
        ['USER', ['svc']],
        [
          'RUN',
          [
            'apt-get update && DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y ' +
              "--no-install-recommends 'jq' 'curl'",
            'root',
          ],
        ],
        ['RUN', ["pip install 'requests==2.*'", 'root']],
        ['RUN', ["npm install -g 'left-pad'", 'root']],
      ],
    );
    assert.equal(
      Template().fromImage('debian:bookworm').setReadyCmd(waitForFile('/tmp/x')).skipCache().toBuildRequest().force,
      true,
    );
    assert.match(waitForURL('http://localhost:3000/health', 204), /grep -q '\^204\$'/);
  });

  it('rejects invalid definitions when the method is called, with InvalidArgumentError', () => {
    const bad: Array<() => unknown> = [
      () => Template().fromTemplate('a').fromImage('b'),
      () => Template().fromTemplate(''),
      () => Template().setWorkdir('relative'),
      () => Template().setEnvs({ 'BAD-NAME': 'x' }),
      () => Template().setUser('no spaces'),
      () => Template().copy('a', '/b', { mode: 'rwx' }),
      () => Template().runCmd('  '),
      () => Template().aptInstall([]),
      () => Template().runCmd('x').toBuildRequest(), // no source
      () => waitForPort(70000),
    ];
    for (const f of bad) assert.throws(f, InvalidArgumentError, String(f));
  });

  it('keeps quoting safe: a package name cannot break out of its argument', () => {
    const r = Template().fromBaseImage().aptInstall(["x'; touch /pwned; echo '"]).toBuildRequest();
    const cmd = r.steps[0].args![0];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-q-'));
    // The shell sees one word, the whole name: print it instead of installing.
    const out = execFileSync('sh', ['-c', cmd.replace(/^.*--no-install-recommends /, 'printf "%s\\n" ')], {
      cwd: dir,
    }).toString();
    assert.equal(out, "x'; touch /pwned; echo '\n");
  });

  it('the static build API hangs off Template too', () => {
    for (const k of [
      'create',
      'startBuild',
      'waitForBuild',
      'getBuildStatus',
      'list',
      'get',
      'delete',
      'exists',
      'uploadFiles',
      'build',
    ]) {
      assert.equal(typeof (Template as any)[k], 'function', k);
    }
  });
});

describe('packTar', () => {
  it('is deterministic, keeps symlinks (dangling too) and long names, and the system tar reads it', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'tb-tar-'));
    const long = 'd'.repeat(60) + '/' + 'e'.repeat(70);
    mkdirSync(path.join(root, 'app', long), { recursive: true });
    writeFileSync(path.join(root, 'app', 'a.txt'), 'hello\n');
    writeFileSync(path.join(root, 'app', long, 'f.bin'), randomBytes(1500));
    symlinkSync('a.txt', path.join(root, 'app', 'link'));
    symlinkSync('/nowhere', path.join(root, 'app', 'dangling'));
    const a = await packTar(root, ['app']);
    const b = await packTar(root, ['./app']);
    assert.deepEqual(a, b);
    const file = path.join(root, 'out.tar');
    writeFileSync(file, a);
    const listing = execFileSync('tar', ['-tvf', file]).toString();
    assert.match(listing, /app\/a\.txt/);
    assert.match(listing, /app\/link -> a\.txt/);
    assert.match(listing, /app\/dangling -> \/nowhere/);
    assert.ok(listing.includes(`app/${long}/f.bin`), listing);
    const x = mkdtempSync(path.join(os.tmpdir(), 'tb-untar-'));
    execFileSync('tar', ['-xf', file, '-C', x]);
    assert.equal(execFileSync('cat', [path.join(x, 'app', 'a.txt')]).toString(), 'hello\n');
    await assert.rejects(packTar(root, ['../etc']), /outside the file context/);
  });
});

describe('sha256 (sync)', () => {
  it('matches node:crypto on sizes around the block boundaries', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_000]) {
      const data = randomBytes(n);
      assert.equal(
        Buffer.from(sha256(data)).toString('hex'),
        createHash('sha256').update(data).digest('hex'),
        `size ${n}`,
      );
    }
  });
});
