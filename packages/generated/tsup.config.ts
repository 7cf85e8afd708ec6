/**
 * Build of the envd protocol code as plain JavaScript for the compiled server: `npm start` runs packages/server/dist,
 * which imports @tensor-box/generated/envd/* from dist/<service>/ here. Each file compiled on its own, no bundling.
 * The types-only modules (api.gen.ts, envd.gen.ts) have nothing to build. Everything that compiles from sources maps
 * these imports to src/ instead: tsx and tsc (root tsconfig `paths`), the SDK's and the CLI's bundles, the console
 * (vite.config.ts).
 */
import { defineConfig } from 'tsup';

// No source maps: stack traces in generated descriptors are not read. dist/ is tsup's default outDir.
export default defineConfig({
  entry: ['src/envd/**/*_pb.ts'],
  format: ['esm'],
  bundle: false,
  target: 'node20',
  clean: true,
});
