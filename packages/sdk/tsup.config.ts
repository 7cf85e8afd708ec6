/**
 * Build of the published SDK: one ES module and one CommonJS bundle of src/index.ts in dist/, each with its own type
 * declarations (index.d.ts, index.d.cts). Dependencies stay external (they are the package's `dependencies`), except
 * openapi-fetch, which is inlined from its ES module: its CommonJS build has `exports.default`, which a CommonJS bundle
 * of our ES module sources would not find (tests/packaging.test.ts runs the CommonJS build).
 * Inside this repository nothing imports dist/: tsx, tsc and Vite map `tensor-box` to src/ (root tsconfig `paths`).
 */
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  tsconfig: 'tsconfig.build.json',
  target: 'es2022',
  outDir: 'dist',
  clean: true,
  splitting: false,
  sourcemap: false,
  noExternal: ['openapi-fetch'],
});
