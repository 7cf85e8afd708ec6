/**
 * A streaming reader for the tar archives image layers are: POSIX ustar with PAX extended headers (`x`, `g`) and the
 * GNU long-name records (`L`, `K`) and base-256 numbers, which covers what Docker, BuildKit, Go's archive/tar, umoci
 * and GNU tar write. It pulls from an async byte source and yields one entry at a time; the entry's data is read (or
 * skipped) before the next header, so memory stays at one chunk whatever the layer's size. Sparse files are refused
 * rather than unpacked wrongly.
 *
 * Layout of an archive: 512-byte blocks; each entry is a header block followed by its data padded to a block; the end
 * is two zero blocks. Header fields (byte offsets): name 0–99, mode 100, uid 108, gid 116, size 124, mtime 136,
 * checksum 148, type 156, linkname 157–256, magic 257 ("ustar\0" + "00" for POSIX, "ustar  \0" for GNU), devmajor
 * 329, devminor 337, prefix 345–499 (POSIX only).
 */
import { DriverError } from '../driver.js';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** The member name as stored (not yet normalised). */
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data (files only). */
  size: number;
  mtimeS: number;
  /** Symlink target, or for a hard link the member it links to. */
  linkTarget: string;
  devMajor: number;
  devMinor: number;
  /** Extended attributes from `SCHILY.xattr.*` PAX records. */
  xattrs: Map<string, Buffer>;
}

const BLOCK = 512;
const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Pulls exact byte counts out of an async chunk source. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private done = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    }
    return this.buf.length >= n;
  }

  /** Exactly `n` bytes, or null at a clean end; a partial block is a truncated archive. */
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) {
      if (this.buf.length === 0) return null;
      throw truncated();
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Up to `max` bytes that are already there (at least one), for streaming a member's data. */
  async some(max: number): Promise<Buffer> {
    if (!(await this.fill(1))) throw truncated();
    const n = Math.min(max, this.buf.length);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.some(n)).length;
  }

  /** Reads the rest of the source (the zero padding after the end blocks), so a wrapping hash sees every byte. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (!this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
    }
  }

  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
  }
}

const truncated = () => new DriverError('failed_precondition', 'the layer archive is truncated');

function str(b: Buffer, start: number, len: number): string {
  const field = b.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function num(b: Buffer, start: number, len: number): number {
  const field = b.subarray(start, start + len);
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as the marker.
    let v = field[0]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + field[i]!;
    return v;
  }
  const text = str(b, start, len).trim();
  return text ? parseInt(text, 8) : 0;
}

function checksumOk(h: Buffer): boolean {
  const want = num(h, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return want === unsigned || want === signed;
}

/** PAX records: `<length> <key>=<value>\n`, with binary-safe values (xattrs). */
function parsePax(data: Buffer, into: Map<string, Buffer>): void {
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.subarray(pos, space).toString('ascii'), 10);
    if (!(len > 0) || pos + len > data.length)
      throw new DriverError('failed_precondition', 'the layer archive has a malformed PAX header');
    const record = data.subarray(space + 1, pos + len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq > 0) into.set(record.subarray(0, eq).toString('utf8'), record.subarray(eq + 1));
    pos += len;
  }
}

/** A member's data: read it all through `chunks`, or leave it and the reader skips it. */
export interface TarMember {
  entry: TarEntry;
  chunks(): AsyncGenerator<Buffer>;
}

/**
 * Yields the members of a tar archive in order. Stop early with `break` and the source is closed; a malformed archive
 * throws `DriverError('failed_precondition')`.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarMember> {
  const r = new ByteReader(source);
  const globals = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const h = await r.read(BLOCK);
      if (!h) break; // some writers omit the end blocks
      if (h.every((b) => b === 0)) {
        await r.drain();
        break;
      }
      if (!checksumOk(h))
        throw new DriverError(
          'failed_precondition',
          'the layer archive has a header with a bad checksum (not a tar file?)',
        );
      const flag = String.fromCharCode(h[156]!);
      const size = num(h, 124, 12);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (size > 1024 * 1024)
          throw new DriverError('failed_precondition', 'the layer archive has an extended header larger than 1 MiB');
        const data = (await r.read(padded))?.subarray(0, size) ?? Buffer.alloc(0);
        if (flag === 'x') parsePax(data, pax);
        else if (flag === 'g') parsePax(data, globals);
        else if (flag === 'L') longName = str(data, 0, data.length);
        else longLink = str(data, 0, data.length);
        continue;
      }
      const ext = new Map([...globals, ...pax]);
      pax = new Map();
      const ustar = h.subarray(257, 263).toString('latin1') === 'ustar\0';
      const prefix = ustar ? str(h, 345, 155) : '';
      const name =
        ext.get('path')?.toString('utf8') ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
      const linkTarget = ext.get('linkpath')?.toString('utf8') ?? longLink ?? str(h, 157, 100);
      longName = longLink = undefined;
      const type = TYPES[flag];
      if (flag === 'S' || [...ext.keys()].some((k) => k.startsWith('GNU.sparse'))) {
        throw new DriverError(
          'failed_precondition',
          `the layer archive stores '${name}' as a sparse file, which is not supported`,
        );
      }
      if (!type) {
        // 'V' (volume label) and 'D' (GNU dump dir listing) carry nothing to unpack; anything else we do not
        // understand.
        if (flag === 'V' || flag === 'D') {
          await r.skip(padded);
          continue;
        }
        throw new DriverError(
          'failed_precondition',
          `the layer archive has '${name}' of tar type '${flag}', which is not supported`,
        );
      }
      const xattrs = new Map<string, Buffer>();
      for (const [k, v] of ext) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
      const numOr = (key: string, fallback: number) =>
        ext.has(key) ? Number(ext.get(key)!.toString('utf8')) : fallback;
      // Like Go's archive/tar: links, devices, dirs and fifos have no data, whatever their size field says.
      const dataBytes = type === 'file' ? numOr('size', size) : 0;
      const entry: TarEntry = {
        path: name,
        type,
        mode: num(h, 100, 8) & 0o7777,
        uid: numOr('uid', num(h, 108, 8)),
        gid: numOr('gid', num(h, 116, 8)),
        size: type === 'file' ? dataBytes : 0,
        mtimeS: numOr('mtime', num(h, 136, 12)),
        linkTarget,
        devMajor: num(h, 329, 8),
        devMinor: num(h, 337, 8),
        xattrs,
      };
      let left = dataBytes;
      const chunks = async function* (): AsyncGenerator<Buffer> {
        while (left > 0) {
          const c = await r.some(left);
          left -= c.length;
          yield c;
        }
      };
      yield { entry, chunks };
      await r.skip(left);
      await r.skip(Math.ceil(dataBytes / BLOCK) * BLOCK - dataBytes);
    }
  } finally {
    await r.close();
  }
}
