/**
 * The uncompressed bytes of a cached layer blob. The compression is read from the blob's first bytes rather than its
 * media type, because registries and tools disagree on the type names but never on the magic numbers: gzip (1f 8b) with
 * Node's zlib, zstd (28 b5 2f fd) with the `zstd` CLI (Node 20's zlib has no zstd; Debian package `zstd`), anything
 * else as a plain tar.
 */
import { spawn } from 'node:child_process';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DriverError } from '../driver.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const CHUNK_BYTES = 256 * 1024;

/** The compression of a blob, from its magic number. */
export async function sniffCompression(file: string): Promise<Compression> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
    if (bytesRead === 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

/** Streams the uncompressed layer, feeding every byte to `hash` when given (to check the config's diff_id). */
export async function* layerBytes(file: string, hash?: Hash): AsyncGenerator<Buffer> {
  const compression = await sniffCompression(file);
  const source =
    compression === 'zstd'
      ? zstdStream(file)
      : compression === 'gzip'
        ? gunzipStream(file)
        : createReadStream(file, { highWaterMark: CHUNK_BYTES });
  for await (const chunk of source as AsyncIterable<Buffer>) {
    hash?.update(chunk);
    yield chunk;
  }
}

function gunzipStream(file: string): AsyncIterable<Buffer> {
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  // pipeline destroys the gunzip stream with the error of either side, so the consumer's loop throws it.
  return pipeline(createReadStream(file, { highWaterMark: CHUNK_BYTES }), gunzip, () => {});
}

async function* zstdStream(file: string): AsyncGenerator<Buffer> {
  const child = spawn('zstd', ['-d', '-c', '-q', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-2000)));
  let spawnError: NodeJS.ErrnoException | undefined;
  const closed = new Promise<number | null>((resolve) => {
    child.on('error', (err) => (spawnError = err));
    child.on('close', (code) => resolve(code));
  });
  let finished = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await closed;
    finished = true;
    if (spawnError?.code === 'ENOENT') {
      throw new DriverError(
        'failed_precondition',
        'zstd is not installed (packages/runtime/setup.sh installs it); it is needed for zstd-compressed layers',
      );
    }
    if (spawnError) throw spawnError;
    if (code !== 0)
      throw new DriverError(
        'failed_precondition',
        `zstd could not decompress a layer (exit ${code}): ${stderr.trim()}`,
      );
  } finally {
    if (!finished) {
      child.kill('SIGKILL');
      await closed;
    }
  }
}
