/**
 * Build of the published CLI: src/bin.ts bundled into dist/tensor-box.js (the package's bin), with the SDK inlined so
 * the package installs on its own (and openapi-fetch, as the SDK's build does); the other npm dependencies of the SDK
 * and the CLI stay external (package.json lists them).
 */
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { 'tensor-box': 'src/bin.ts' },
  format: ['esm'],
  target: 'node20',
  outDir: 'dist',
  clean: true,
  splitting: false,
  noExternal: ['tensor-box', 'openapi-fetch'],
});
