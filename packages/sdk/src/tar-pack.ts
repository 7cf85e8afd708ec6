/**
 * A tar (POSIX ustar, with pax headers for long names) of files under a directory, for the template builder's `copy`
 * steps: regular files, directories and symlinks (kept as links, dangling ones too), owners 0 and mtimes 0, in name
 * order, so the same files always give the same bytes and the same hash (the server skips uploads it already has).
 * Node only (it reads the local disk); loaded lazily so the SDK still runs in browsers.
 */
import type { Stats } from 'node:fs';

const BLOCK = 512;
const enc = new TextEncoder();

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, type: string, size: number, mode: number, linkname = ''): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const put = (s: string, off: number, len: number) => h.set(enc.encode(s).subarray(0, len), off);
  put(name, 0, 100);
  put(octal(mode & 0o7777, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  put(linkname, 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** A pax extended header carrying `path` / `linkpath` values too long for ustar's fields. */
function pax(records: Record<string, string>): Uint8Array[] {
  let body = '';
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = enc.encode(rest).length;
    len += String(len + String(len).length).length;
    body += `${len}${rest}`;
  }
  const bytes = enc.encode(body);
  return [header('././@PaxHeader', 'x', bytes.length, 0o644), ...padded(bytes)];
}

function padded(data: Uint8Array): Uint8Array[] {
  const rem = data.length % BLOCK;
  return rem ? [data, new Uint8Array(BLOCK - rem)] : [data];
}

function entry(name: string, type: string, mode: number, data: Uint8Array, link = ''): Uint8Array[] {
  const long: Record<string, string> = {};
  if (enc.encode(name).length > 100) long.path = name;
  if (enc.encode(link).length > 100) long.linkpath = link;
  const out = Object.keys(long).length ? pax(long) : [];
  out.push(header(name, type, data.length, mode, link), ...(data.length ? padded(data) : []));
  return out;
}

/**
 * Packs `paths` (relative to `root`, `/`-separated; directories recursively) into one tar, entries named by their
 * path relative to `root`. Throws when a path does not exist or leaves `root`.
 */
export async function packTar(root: string, paths: string[]): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const base = path.resolve(root);
  const files = new Map<string, Stats>();
  const visit = async (rel: string) => {
    const st = await fs.lstat(path.join(base, rel));
    files.set(rel, st);
    if (st.isDirectory()) for (const n of await fs.readdir(path.join(base, rel))) await visit(path.posix.join(rel, n));
  };
  for (const p of paths) {
    const rel = path.posix.normalize(p.replace(/\\/g, '/').replace(/^\.\/+/, ''));
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`'${p}' is outside the file context ${base}`);
    if (rel === '.') for (const n of await fs.readdir(base)) await visit(n);
    else await visit(rel);
  }
  const chunks: Uint8Array[] = [];
  for (const rel of [...files.keys()].sort()) {
    const st = files.get(rel)!;
    const abs = path.join(base, rel);
    if (st.isDirectory()) chunks.push(...entry(`${rel}/`, '5', st.mode, new Uint8Array()));
    else if (st.isSymbolicLink()) chunks.push(...entry(rel, '2', 0o777, new Uint8Array(), await fs.readlink(abs)));
    else if (st.isFile()) chunks.push(...entry(rel, '0', st.mode, new Uint8Array(await fs.readFile(abs))));
  }
  chunks.push(new Uint8Array(BLOCK * 2));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
