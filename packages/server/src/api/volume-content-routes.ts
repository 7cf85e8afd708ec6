/**
 * The volume content API (spec/volume-content.yaml): `/volumecontent/{volumeID}/dir|path|file`, E2B's paths, served
 * beside the REST table (app.ts's edge routes: file bodies are raw bytes, not JSON). Authorization is the volume's
 * token (`Bearer`, from GET /volumes/{id}; bound to that volume and to the API key that asked) or an API key; either
 * way the volume must be the caller's team's (another team's is a 404). The volume is mounted on this node for the
 * length of the request (services/volume-images.ts) and the files are served by services/volume-files.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { ApiError, invalid } from '../errors.js';
import type { Authenticator } from '../teams/authenticate.js';
import { withCaller } from '../teams/caller.js';
import { VolumeFiles, type Ownership } from '../services/volume-files.js';
import type { VolumeImages } from '../services/volume-images.js';
import { volumeTokenSubject, type VolumeService } from '../services/volume-service.js';

export const VOLUME_CONTENT_PATH = /^\/volumecontent\/(?<volumeID>[^/]+)\/(?<what>dir|path|file)$/;

interface Deps {
  auth: Authenticator;
  volumes: VolumeService;
  images: VolumeImages;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status, { 'content-length': 0 });
    res.end();
    return;
  }
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

/** A query number (uid, gid, mode, depth): absent, or a whole number ≥ 0. */
function num(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw invalid(`${name}: not a whole number: '${v}'`);
  return n;
}

const ownership = (url: URL): Ownership & { force?: boolean } => ({
  uid: num(url, 'uid'),
  gid: num(url, 'gid'),
  mode: num(url, 'mode'),
  force: url.searchParams.get('force') === 'true',
});

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (!chunks.length) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw invalid('request body is not valid JSON');
  }
}

/** The edge route's handler. */
export function volumeContentHandler(d: Deps) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL, m: RegExpExecArray): Promise<void> => {
    const volumeId = m.groups!.volumeID;
    const what = m.groups!.what as 'dir' | 'path' | 'file';
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const byToken = token ? await d.auth.fromToken(volumeTokenSubject(volumeId), token) : undefined;
    const caller = byToken ?? (await d.auth.fromRequest(req));
    await withCaller(caller, async () => {
      const v = await d.volumes.forContent(volumeId);
      await d.volumes.checkNotElsewhere(v);
      const holder = `api:${randomBytes(6).toString('hex')}`;
      await d.images.acquire(v.volumeId, holder);
      // Held until the response is done (an error answer included): a file stream may outlive this function.
      res.once('close', () => void d.images.release(v.volumeId, holder));
      const files = new VolumeFiles(d.images.filesDir(v.volumeId), `'${v.name}'`, v.sizeMB);
      await serve(files, what, req, res, url);
    });
  };
}

async function serve(files: VolumeFiles, what: string, req: IncomingMessage, res: ServerResponse, url: URL) {
  const p = url.searchParams.get('path') ?? '';
  const method = req.method ?? 'GET';
  const route = `${method} ${what}`;
  switch (route) {
    case 'GET dir':
      return send(res, 200, await files.list(p, num(url, 'depth') || 1));
    case 'POST dir':
      return send(res, 201, await files.makeDir(p, ownership(url)));
    case 'GET path':
      return send(res, 200, await files.stat(p));
    case 'PATCH path': {
      const b = (await readBody(req)) as { uid?: unknown; gid?: unknown; mode?: unknown };
      const n = (k: 'uid' | 'gid' | 'mode') => {
        const x = b?.[k];
        if (x === undefined || x === null) return undefined;
        if (!Number.isInteger(x) || (x as number) < 0) throw invalid(`${k}: not a whole number`);
        return x as number;
      };
      return send(res, 200, await files.setMetadata(p, { uid: n('uid'), gid: n('gid'), mode: n('mode') }));
    }
    case 'DELETE path':
      await files.remove(p);
      return send(res, 204);
    case 'GET file': {
      const { stream, size } = await files.read(p);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      stream.pipe(res);
      await new Promise<void>((resolve) => res.once('close', resolve));
      return;
    }
    case 'PUT file':
      return send(res, 200, await files.write(p, req, ownership(url)));
    default:
      throw new ApiError('invalid_argument', `method ${method} is not allowed on /volumecontent/…/${what}`);
  }
}
