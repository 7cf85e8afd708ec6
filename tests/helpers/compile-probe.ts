/**
 * Runs the TypeScript compiler on small probe modules and returns each one's errors: how the typed route tables
 * (packages/server/src/http/typed-route.ts, edge-route.ts) prove that a mistaken row does not compile. One program for
 * all probes (the compiler's start-up is the slow part); the probe files live in a temporary directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

/** Compiler errors of each probe: `prelude` (its imports, absolute paths) then the probe's code. */
export function compileErrors(prelude: string, codes: string[]): string[][] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tb-route-probe-'));
  try {
    const files = codes.map((code, i) => {
      const file = path.join(dir, `probe${i}.ts`);
      writeFileSync(file, `${prelude}\n${code}\n`);
      return file;
    });
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program);
    return files.map((f) =>
      diagnostics
        .filter((d) => d.file?.fileName === f)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
