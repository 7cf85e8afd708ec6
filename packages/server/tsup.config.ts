/**
 * Build of the server as plain JavaScript for `npm start` (scripts/start.sh): each source file compiled on its own
 * into dist/ at the same relative path (paths computed from import.meta.url keep working), no bundling, no type
 * checking (`npm run typecheck` does that). Tests and tsx runs inside the repository use src/ (the root tsconfig's
 * `paths`).
 */
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/**/*.ts', '!src/**/*.test.ts'],
  format: ['esm'],
  bundle: false,
  target: 'node20',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
});
