/** Unit tests of the build context: .dockerignore rules and the tar the CLI uploads. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { contextFiles, isIgnored, parseDockerignore, tarContext } from './template-context.js';

describe('.dockerignore', () => {
  const rules = parseDockerignore(
    [
      '# comment',
      '',
      'node_modules',
      '/build/',
      '*.log',
      '**/*.tmp',
      'docs/**',
      '!docs/keep.md',
      'secret?.txt',
      '[ab].bin',
    ].join('\n'),
  );
  const cases: [string, boolean][] = [
    ['node_modules', true],
    ['node_modules/x/index.js', true],
    ['src/node_modules', false], // patterns are anchored at the context root, as in Docker
    ['build/out.js', true],
    ['app.log', true],
    ['src/app.log', false],
    ['a.tmp', true],
    ['deep/er/b.tmp', true],
    ['docs/guide.md', true],
    ['docs/keep.md', false],
    ['secret1.txt', true],
    ['secret12.txt', false],
    ['a.bin', true],
    ['c.bin', false],
    ['src/main.ts', false],
  ];
  for (const [p, want] of cases)
    it(`${p} ${want ? 'is' : 'is not'} ignored`, () => assert.equal(isIgnored(p, rules), want));
});

describe('tarContext', () => {
  it('packs the kept files (directories before contents) and the same files give the same tar', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-ctx-'));
    try {
      mkdirSync(path.join(dir, 'src'));
      mkdirSync(path.join(dir, 'dist'));
      writeFileSync(path.join(dir, 'src', 'a.txt'), 'a');
      writeFileSync(path.join(dir, 'dist', 'keep.js'), 'k');
      writeFileSync(path.join(dir, 'dist', 'drop.js'), 'd');
      writeFileSync(path.join(dir, '-dash.txt'), 'x');
      writeFileSync(path.join(dir, '.dockerignore'), 'dist\n!dist/keep.js\n.dockerignore\n');
      assert.deepEqual(await contextFiles(dir), ['-dash.txt', 'dist', 'dist/keep.js', 'src', 'src/a.txt']);
      assert.deepEqual(await contextFiles(dir, ['src/a.txt', 'dist']), ['-dash.txt', 'src']);
      const one = await tarContext(dir);
      const two = await tarContext(dir);
      assert.equal(one.entries, 5);
      assert.ok(one.tar.equals(two.tar));
      const out = path.join(dir, 'list.tar');
      writeFileSync(out, one.tar);
      const listed = execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).trim().split('\n');
      assert.deepEqual(listed, ['-dash.txt', 'dist/', 'dist/keep.js', 'src/', 'src/a.txt']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
