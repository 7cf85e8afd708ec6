/**
 * The web console's built files (packages/console/dist) at `/`. The app asks it only for GET/HEAD requests that no API
 * route matches, so the API keeps answering JSON on every path it has. A request for a file that exists gets it
 * (hashed `/assets/*` cached for a year, everything else revalidated); any other path whose Accept header asks for
 * HTML gets index.html (the single-page app routes in the browser); the rest is left to the API's 404.
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** Files under this prefix have a content hash in their names (Vite's output), so they never change. */
const IMMUTABLE_PREFIX = '/assets/';

export interface StaticSite {
  /** Answers the request when it is for the site; false when it is not (the caller answers). */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean>;
}

/** Whether the client asks for a page (a browser navigation), not data. */
function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return /\btext\/html\b/.test(accept) || /\bapplication\/xhtml\+xml\b/.test(accept);
}

async function fileStat(p: string): Promise<Stats | undefined> {
  return stat(p).then(
    (s) => (s.isFile() ? s : undefined),
    () => undefined,
  );
}

function send(req: IncomingMessage, res: ServerResponse, file: string, st: Stats, cache: string): void {
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const headers = {
    'content-type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'cache-control': cache,
    etag,
    'x-content-type-options': 'nosniff',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    return void res.end();
  }
  res.writeHead(200, { ...headers, 'content-length': st.size });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** A static single-page site rooted at `root` (a directory with index.html). */
export function staticSite(root: string): StaticSite {
  const base = path.resolve(root);
  return {
    async serve(req, res, pathname) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      let rel: string;
      try {
        rel = decodeURIComponent(pathname);
      } catch {
        return false;
      }
      const file = path.resolve(base, `.${path.posix.normalize(`/${rel}`)}`);
      if (file.startsWith(base + path.sep) && !rel.endsWith('/')) {
        const st = await fileStat(file);
        if (st) {
          send(
            req,
            res,
            file,
            st,
            pathname.startsWith(IMMUTABLE_PREFIX) ? 'public, max-age=31536000, immutable' : 'no-cache',
          );
          return true;
        }
      }
      if (!wantsHtml(req) || pathname.startsWith(IMMUTABLE_PREFIX)) return false;
      const index = path.join(base, 'index.html');
      const st = await fileStat(index);
      if (!st) {
        const text =
          'The web console is not built: run `npm start` (or `bash scripts/setup.sh`), which builds ' +
          'packages/console.\n';
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
        return true;
      }
      send(req, res, index, st, 'no-cache');
      return true;
    },
  };
}
