/**
 * Build of the console: a static bundle in dist/ that the server serves at `/` (packages/server/src/http/static.ts).
 * JSX goes through Vite's own transform (no React plugin: no fast refresh needed for a bundle the server serves).
 * `npm run dev -w packages/console` proxies the API to a server on TENSOR_BOX_DOMAIN (default 127.0.0.1:3000).
 * The SDK comes from its sources (packages/sdk/src), as everywhere in this repository, and so does the envd protocol
 * code it imports (packages/generated/src): no build of either needed first.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const src = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const api = process.env.TENSOR_BOX_DOMAIN || 'http://127.0.0.1:3000';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic' } },
  resolve: {
    alias: {
      'tensor-box': src('../sdk/src/index.ts'),
      '@tensor-box/generated/envd/process': src('../generated/src/envd/process/process_pb.ts'),
      '@tensor-box/generated/envd/filesystem': src('../generated/src/envd/filesystem/filesystem_pb.ts'),
    },
  },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500, sourcemap: false },
  server: {
    proxy: {
      '^/(sandboxes|v2|v3|templates|snapshots|health|openapi.(json|yaml)$|docs/api)': { target: api, ws: true },
    },
  },
});
