/**
 * Build of the console: a static bundle in dist/ that the server serves at `/` (packages/server/src/http/static.ts).
 * JSX goes through Vite's own transform (no React plugin: no fast refresh needed for a bundle the server serves).
 * `npm run dev -w packages/console` proxies the API to a server on TENSOR_BOX_DOMAIN (default 127.0.0.1:3000).
 * The SDK comes from its sources (packages/sdk/src), as everywhere in this repository: no SDK build needed first.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const api = process.env.TENSOR_BOX_DOMAIN || 'http://127.0.0.1:3000';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic' } },
  resolve: { alias: { 'tensor-box': fileURLToPath(new URL('../sdk/src/index.ts', import.meta.url)) } },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500, sourcemap: false },
  server: {
    proxy: {
      '^/(sandboxes|v2|v3|templates|snapshots|health|openapi.(json|yaml)$|docs/api)': { target: api, ws: true },
    },
  },
});
