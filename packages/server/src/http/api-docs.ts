/**
 * The API reference, public like the spec it comes from (no API key): `GET /openapi.json` and `/openapi.yaml` serve
 * spec/openapi.yaml (the document the server validates requests with), and `/docs/api` a page that renders it with
 * Redoc's standalone bundle, served from the `redoc` npm package at `/docs/api/redoc.standalone.js` — nothing is
 * loaded from another origin (the page's Content-Security-Policy says so to the browser). Exact paths only, GET and
 * HEAD only; anything else is left to the API router.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';

const REDOC_PATH = '/docs/api/redoc.standalone.js';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tensor Box API reference</title>
<link rel="icon" href="/favicon.svg">
<style>body { margin: 0; }</style>
</head>
<body>
<redoc spec-url="/openapi.json" hide-download-button="false"></redoc>
<script src="${REDOC_PATH}"></script>
</body>
</html>
`;

/** Same-origin only; Redoc styles with inline <style> tags and runs its search index in a blob: worker. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Doc {
  body: Buffer;
  type: string;
  headers?: Record<string, string>;
}

export interface ApiDocs {
  /** Answers GET/HEAD for the reference's paths; false when the request is not one of them. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
}

/**
 * @param specYaml the OpenAPI document as YAML text; @param spec the same document parsed.
 * The Redoc bundle is read on first request, so a server without it still starts (the page then answers 404).
 */
export function createApiDocs(specYaml: string, spec: unknown): ApiDocs {
  const docs = new Map<string, () => Doc | undefined>([
    ['/openapi.json', () => ({ body: Buffer.from(JSON.stringify(spec, null, 2)), type: 'application/json' })],
    ['/openapi.yaml', () => ({ body: Buffer.from(specYaml), type: 'application/yaml; charset=utf-8' })],
    [
      '/docs/api',
      () => ({
        body: Buffer.from(PAGE),
        type: 'text/html; charset=utf-8',
        headers: { 'content-security-policy': CSP },
      }),
    ],
    [REDOC_PATH, redocBundle],
  ]);
  const cache = new Map<string, Doc | undefined>();
  return {
    serve(req, res, pathname) {
      const make = docs.get(pathname === '/docs/api/' ? '/docs/api' : pathname);
      if (!make || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
      if (!cache.has(pathname)) cache.set(pathname, make());
      const doc = cache.get(pathname);
      if (!doc) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 404, message: `${pathname}: the redoc package is not installed` }));
        return true;
      }
      res.writeHead(200, {
        'content-type': doc.type,
        'content-length': doc.body.length,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        ...doc.headers,
      });
      res.end(req.method === 'HEAD' ? undefined : doc.body);
      return true;
    },
  };
}

function redocBundle(): Doc | undefined {
  try {
    const file = createRequire(import.meta.url).resolve('redoc/bundles/redoc.standalone.js');
    return { body: readFileSync(file), type: 'text/javascript; charset=utf-8' };
  } catch {
    return undefined;
  }
}
