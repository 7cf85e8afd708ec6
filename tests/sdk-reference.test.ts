/**
 * The TypeScript SDK's API reference (TypeDoc, `npm run docs`): it builds from the SDK's sources without errors or
 * warnings about the public surface, and documents what users call — `Sandbox.create`, `Volume`, `Snapshot`, the template builder — with
 * the doc comments written in the sources (not only names).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK = fileURLToPath(new URL('../packages/sdk/', import.meta.url));
const TYPEDOC = fileURLToPath(new URL('../node_modules/.bin/typedoc', import.meta.url));

describe('TypeScript SDK reference (TypeDoc)', () => {
  it('builds with no errors and documents the public classes with their doc comments', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'tb-typedoc-'));
    try {
      execFileSync(TYPEDOC, ['--out', out, '--logLevel', 'Error'], { cwd: SDK, stdio: ['ignore', 'pipe', 'pipe'] });
      for (const cls of ['Sandbox', 'Volume', 'TemplateBuilder', 'Snapshot']) {
        assert.ok(existsSync(path.join(out, 'classes', `${cls}.html`)), `a page for ${cls}`);
      }
      const sandbox = readFileSync(path.join(out, 'classes', 'Sandbox.html'), 'utf8');
      assert.match(sandbox, /id="create"/, 'Sandbox.create is documented');
      // The doc comment right above `export class Sandbox` shows up (the page is more than a list of names).
      const src = readFileSync(path.join(SDK, 'src', 'sandbox.ts'), 'utf8');
      const comment = /\/\*\*\s*\n\s*\*\s*([^\n]+)\n(?:\s*\*[^\n]*\n)*\s*\*\/\s*\nexport class Sandbox /.exec(src);
      assert.ok(comment, 'the Sandbox class has a doc comment');
      const words = comment[1].split(/\s+/).slice(0, 5).join(' ');
      assert.ok(sandbox.replace(/<[^>]+>/g, '').includes(words), `the page shows "${words}"`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
