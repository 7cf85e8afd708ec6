/**
 * Files for COPY steps: tars (plain or gzip) uploaded by hash (E2B's `GET/PUT /templates/{id}/files/{hash}`; our CLI
 * uploads a Dockerfile's whole build context the same way), kept under `<dataDir>/template-files/<hash>.tar`, and the
 * COPY itself: the matching part of a tar is packed anew on the host and unpacked inside the build sandbox by its own
 * `tar`, so paths resolve inside the sandbox (never through host symlinks).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createReadStream } from 'node:fs';
import { ApiError, invalid } from '../errors.js';
import { execInSandbox, type ExecTarget } from './sandbox-exec.js';
import { sandboxConnections } from '../envd/connections.js';

const execFileP = promisify(execFile);
const MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024;
const HASH = /^[A-Za-z0-9_-]{8,128}$/;

export class BuildFiles {
  constructor(private dir: string) {}

  path(hash: string): string {
    if (!HASH.test(hash)) throw invalid(`'${hash}' is not a valid files hash`);
    return path.join(this.dir, `${hash}.tar`);
  }

  has(hash: string): boolean {
    return existsSync(this.path(hash));
  }

  /** Stores an upload (written to a temp file, renamed into place once complete: a cut upload leaves nothing). */
  async put(hash: string, body: IncomingMessage): Promise<void> {
    const dest = this.path(hash);
    await mkdir(this.dir, { recursive: true });
    const tmp = `${dest}.${randomBytes(4).toString('hex')}.part`;
    let size = 0;
    try {
      await pipeline(
        body,
        async function* (src) {
          for await (const chunk of src) {
            size += (chunk as Buffer).length;
            if (size > MAX_UPLOAD_BYTES) throw invalid(`upload is larger than ${MAX_UPLOAD_BYTES} bytes`);
            yield chunk;
          }
        },
        createWriteStream(tmp),
      );
      if (size === 0) throw invalid('the upload is empty: send a tar (plain or gzip) of the files');
      // Refuse what is not a tar now, rather than at the COPY step.
      await execFileP('tar', ['-tf', tmp], { maxBuffer: 64 << 20 }).catch(() => {
        throw invalid('the upload is not a tar archive (plain or gzip)');
      });
      await rename(tmp, dest);
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/** Docker's COPY semantics over one source of an uploaded tar; `dest` relative to `workdir`. */
export interface CopyArgs {
  tar: string;
  src: string;
  dest: string;
  workdir: string;
  user?: string;
  mode?: string;
  onLine: (line: string) => void;
}

const GLOB = /[*?[]/;

function globToRegex(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The staged paths a source names (a glob matches within its directory). */
function matches(root: string, src: string): string[] {
  const rel = path.posix.normalize(src.replace(/^\.\/+/, ''));
  if (rel.startsWith('..') || path.isAbsolute(rel))
    throw new ApiError('invalid_argument', `COPY source '${src}' is outside the build context`);
  if (rel === '.' || rel === '') return [root];
  if (!GLOB.test(rel)) return existsSync(path.join(root, rel)) ? [path.join(root, rel)] : [];
  const dir = path.posix.dirname(rel);
  if (GLOB.test(dir))
    throw new ApiError('invalid_argument', `COPY source '${src}': wildcards only in the last path segment`);
  const re = globToRegex(path.posix.basename(rel));
  const base = path.join(root, dir);
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(base, n));
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs one COPY: unpacks the tar on the host into a scratch dir, lays out what goes where, packs that, uploads it to
 * the sandbox and unpacks it there (then chown/chmod). Returns the exit code of the in-sandbox part (0 = done).
 */
export async function copyIntoSandbox(t: ExecTarget, a: CopyArgs): Promise<number> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'tb-copy-'));
  try {
    const staged = path.join(scratch, 'ctx');
    await mkdir(staged);
    await execFileP('tar', ['-xf', a.tar, '-C', staged, '--no-same-owner', '--no-overwrite-dir'], {
      maxBuffer: 16 << 20,
    });
    const found = matches(staged, a.src);
    if (found.length === 0) {
      a.onLine(`COPY: '${a.src}' is not in the uploaded files`);
      return 1;
    }
    const dest = path.posix.isAbsolute(a.dest) ? a.dest : path.posix.join(a.workdir || '/', a.dest);
    const payload = path.join(scratch, 'payload');
    await mkdir(payload);
    // A directory's contents go into dest; files go into dest/ when it ends with a slash or several are copied,
    // otherwise the one file becomes dest.
    let targetDir = dest;
    const asDir = dest.endsWith('/') || found.length > 1;
    for (const f of found) {
      if (statSync(f).isDirectory())
        await cp(f, payload, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      else if (asDir)
        await cp(f, path.join(payload, path.basename(f)), { verbatimSymlinks: true, preserveTimestamps: true });
      else {
        targetDir = path.posix.dirname(dest);
        await cp(f, path.join(payload, path.posix.basename(dest)), {
          verbatimSymlinks: true,
          preserveTimestamps: true,
        });
      }
    }
    const top = readdirSync(payload);
    const packed = path.join(scratch, 'payload.tar');
    await execFileP('tar', ['-cf', packed, '-C', payload, '--numeric-owner', '--owner=0', '--group=0', '.']);
    const remote = `/tmp/.tb-copy-${randomBytes(6).toString('hex')}.tar`;
    await uploadFile(t, remote, packed);
    const entries = top.map((n) => q(path.posix.join(targetDir, n))).join(' ');
    const script = [
      'set -e',
      `mkdir -p ${q(targetDir)}`,
      `tar -xf ${remote} -C ${q(targetDir)} || { rm -f ${remote}; echo 'COPY needs tar in the image' >&2; exit 1; }`,
      `rm -f ${remote}`,
      ...(a.user && top.length ? [`chown -R -h ${q(a.user.includes(':') ? a.user : `${a.user}:`)} ${entries}`] : []),
      ...(a.mode && top.length ? [`chmod -R ${a.mode} ${entries}`] : []),
    ].join('\n');
    const r = await execInSandbox(t, { cmd: script, user: 'root', onLine: (l) => a.onLine(l) });
    return r.exitCode;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** POST /files to the agent (octet-stream) as root. */
function uploadFile(t: ExecTarget, remotePath: string, local: string): Promise<void> {
  const url = new URL(`${t.envdUrl}/files`);
  url.searchParams.set('path', remotePath);
  url.searchParams.set('username', 'root');
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent: sandboxConnections.agentForUrl(t.envdUrl),
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': statSync(local).size,
          ...(t.accessToken ? { 'X-Access-Token': t.accessToken } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d) => (text += d));
        res.on('end', () =>
          (res.statusCode ?? 500) < 300
            ? resolve()
            : reject(new Error(`upload to the build sandbox answered ${res.statusCode}: ${text}`)),
        );
      },
    );
    req.on('error', reject);
    createReadStream(local).pipe(req);
  });
}
