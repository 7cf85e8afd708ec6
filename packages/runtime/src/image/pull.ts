/**
 * Pulling an image into a flattened root filesystem: resolve the reference to a linux/amd64 image manifest, download
 * its config and layers into the blob cache (verified by digest), apply the layers in order into a staging directory,
 * and rename that into the image cache. `dest` is then a hard-linked copy of the cached rootfs (`cp -al`), the same
 * approach as rootfs/debian.ts: layers are read-only lowers of overlayfs, so sharing inodes is safe.
 *
 * Cache layout (under `cacheDir`, shared by data dirs; every entry is written beside its final name and renamed into
 * place, so a crash never leaves a half entry under a final name):
 *
 *     blobs/sha256/<hex>               layer and config blobs, verified
 *     images/<manifest hex>/rootfs     the flattened root filesystem of one image manifest
 *     images/<manifest hex>/config.json  its ImageConfig
 *
 * A tag is resolved at the registry on every pull (tags move); a digest reference whose image is cached needs no
 * registry at all.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DriverError } from '../driver.js';
import { BlobCache, hexOf, removeStaleTemps, tempName } from './blob-cache.js';
import {
  type Descriptor,
  type ImageConfig,
  MANIFEST_ACCEPT,
  parseImageConfig,
  parseManifest,
  pickPlatform,
} from './manifest.js';
import { formatImageRef, type ImageRef, parseImageRef } from './reference.js';
import { RegistryClient, type RegistryConfig, MAX_DOCUMENT_BYTES } from './registry-client.js';
import { runTool } from './tools.js';
import { applyLayer } from './unpack.js';
import { linkTreeArgs } from '../rootfs/link-tree.js';

export interface PullOptions {
  /** Image reference, e.g. `myorg/python:3.11` or `reg.example.com/myorg/python@sha256:…`. */
  ref: string;
  /** The registry to pull from; a reference that names another registry is refused. */
  registry: RegistryConfig;
  /** Directory to create with the flattened root filesystem; must not exist. */
  dest: string;
  /** Blob and rootfs cache, e.g. TENSOR_BOX_CACHE_DIR. */
  cacheDir: string;
  /** Progress from 0 to 1 with a message per step (per layer, with bytes). */
  onProgress?: (fraction: number, message: string) => void;
}

/** Layers downloaded at once (like Docker's default of 3). */
const PARALLEL_DOWNLOADS = 3;
/** Manifest lists pointing at lists: how deep we follow them. */
const MAX_INDEX_DEPTH = 3;

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const short = (digest: string) => digest.slice(0, 'sha256:'.length + 12);

/** Docker Hub keeps official images under `library/`; other registries take the name as written. */
function repositoryOn(host: string, repository: string): string {
  return /^(registry-1\.|index\.)?docker\.io$/.test(host) && !repository.includes('/')
    ? `library/${repository}`
    : repository;
}

function sameRegistry(named: string, host: string): boolean {
  const norm = (h: string) => {
    const l = h.toLowerCase().replace(/:(80|443)$/, '');
    return /^(registry-1\.|index\.)?docker\.io$/.test(l) ? 'docker.io' : l;
  };
  return norm(named) === norm(host);
}

/** Resolves a tag or digest to the linux/amd64 image manifest, following an index. */
async function resolveManifest(client: RegistryClient, repository: string, ref: ImageRef, label: string) {
  let reference = ref.digest ?? ref.tag ?? 'latest';
  for (let depth = 0; depth < MAX_INDEX_DEPTH; depth++) {
    const byDigest = reference.startsWith('sha256:');
    const what = `manifest ${repository}${byDigest ? '@' : ':'}${reference}`;
    const { body, contentType } = await client.getDocument(`/v2/${repository}/manifests/${reference}`, {
      scope: `repository:${repository}:pull`,
      accept: MANIFEST_ACCEPT,
      what,
    });
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (byDigest && digest !== reference) {
      throw new DriverError(
        'failed_precondition',
        `registry ${client.host} sent ${what} with digest ${digest} (corrupt or tampered)`,
      );
    }
    const m = parseManifest(body, contentType, what);
    if (m.kind === 'manifest') return { digest, manifest: m };
    reference = pickPlatform(m.manifests, `image ${label}`).digest;
  }
  throw new DriverError('failed_precondition', `image ${label} nests manifest lists more than ${MAX_INDEX_DEPTH} deep`);
}

async function readCachedConfig(imageDir: string): Promise<ImageConfig | undefined> {
  try {
    return JSON.parse(await readFile(path.join(imageDir, 'config.json'), 'utf8')) as ImageConfig;
  } catch {
    return undefined;
  }
}

/** Runs `fn` over `items` with at most `limit` at a time; the first failure stops new ones from starting. */
async function eachLimit<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Pulls `o.ref` from `o.registry` and creates `o.dest` as its flattened root filesystem (linux/amd64); returns how a
 * sandbox from it starts. Throws `DriverError`: `invalid_argument` for a malformed reference or one naming another
 * registry, `not_found` for an unknown repository, tag or digest, `failed_precondition` for refused credentials, an
 * unreachable registry, a digest mismatch, no linux/amd64 image, or a layer that cannot be unpacked.
 *
 * @example
 * const config = await pullImage({ ref: 'myorg/python:3.11', registry: { url: 'https://reg.example.com' },
 *   dest: '/data/templates/t1/b1/rootfs', cacheDir: '/var/cache/tensor-box' });
 * config.env // ['PATH=/usr/local/bin:…', 'LANG=C.UTF-8']
 */
/**
 * Resolves a reference to the digest of its linux/amd64 image manifest without pulling anything (one or two requests):
 * `not_found` when the registry has no such image, so a build can be refused before it starts.
 */
export async function resolveImage(o: { ref: string; registry: RegistryConfig }): Promise<string> {
  const ref = parseImageRef(o.ref);
  const client = new RegistryClient(o.registry);
  if (ref.registry && !sameRegistry(ref.registry, client.host)) {
    throw new DriverError(
      'invalid_argument',
      `image '${o.ref}' names registry ${ref.registry}, but images are pulled only from the configured registry ` +
        `${client.host}`,
    );
  }
  const repository = repositoryOn(client.host, ref.repository);
  const label = `${client.host}/${formatImageRef({ ...ref, registry: undefined, repository })}`;
  return (await resolveManifest(client, repository, ref, label)).digest;
}

export async function pullImage(o: PullOptions): Promise<ImageConfig> {
  // Parallel downloads and rounding must never move the bar backwards.
  let reached = 0;
  const progress = (fraction: number, message: string) => {
    reached = Math.max(reached, Math.min(fraction, 1));
    o.onProgress?.(reached, message);
  };
  const ref = parseImageRef(o.ref);
  const client = new RegistryClient(o.registry);
  if (ref.registry && !sameRegistry(ref.registry, client.host)) {
    throw new DriverError(
      'invalid_argument',
      `image '${o.ref}' names registry ${ref.registry}, but images are pulled only from the configured registry ` +
        `${client.host}`,
    );
  }
  if (existsSync(o.dest)) throw new DriverError('failed_precondition', `cannot pull into ${o.dest}: it already exists`);
  const repository = repositoryOn(client.host, ref.repository);
  const label = `${client.host}/${formatImageRef({ ...ref, registry: undefined, repository })}`;
  const imagesDir = path.join(o.cacheDir, 'images');
  const blobs = new BlobCache(o.cacheDir);

  const linkInto = async (imageDir: string, config: ImageConfig) => {
    progress(0.98, 'linking the root filesystem');
    await mkdir(path.dirname(o.dest), { recursive: true });
    try {
      await runTool(
        'cp',
        linkTreeArgs(path.join(imageDir, 'rootfs'), o.dest),
        `copying the cached root filesystem of ${label}`,
      );
    } catch (err) {
      await rm(o.dest, { recursive: true, force: true }); // nothing half-made is left at dest
      throw err;
    }
    progress(1, 'done');
    return config;
  };

  if (ref.digest) {
    const cached = await readCachedConfig(path.join(imagesDir, hexOf(ref.digest)));
    if (cached) {
      progress(0.5, `image ${short(ref.digest)} is cached`);
      return linkInto(path.join(imagesDir, hexOf(ref.digest)), cached);
    }
  }

  progress(0, `resolving ${label}`);
  const { digest, manifest } = await resolveManifest(client, repository, ref, label);
  const imageDir = path.join(imagesDir, hexOf(digest));
  const cached = await readCachedConfig(imageDir);
  if (cached) {
    progress(0.5, `image ${short(digest)} is cached`);
    return linkInto(imageDir, cached);
  }

  const configDesc: Descriptor = manifest.config;
  if (configDesc.size > MAX_DOCUMENT_BYTES)
    throw new DriverError('failed_precondition', `the config of ${label} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
  const configFile = await blobs.fetch(client, repository, configDesc);
  const { config, diffIds } = parseImageConfig(await readFile(configFile), digest, `image ${label}`);
  const layers = manifest.layers;
  if (diffIds.length !== layers.length) {
    throw new DriverError(
      'failed_precondition',
      `image ${label} has ${layers.length} layers but its config lists ${diffIds.length}`,
    );
  }
  const totalBytes = layers.reduce((n, l) => n + Math.max(l.size, 0), 0) || 1;
  progress(0.03, `image ${short(digest)}: ${layers.length} layer${layers.length === 1 ? '' : 's'}, ${mb(totalBytes)}`);

  // Downloads: 0.05–0.6 of the bar, by bytes.
  const got = layers.map(() => 0);
  const files: string[] = [];
  const step = (i: number) => `layer ${i + 1}/${layers.length} ${short(layers[i]!.digest)}`;
  const downloadFraction = () => 0.05 + (0.55 * got.reduce((a, b) => a + b, 0)) / totalBytes;
  await eachLimit(layers, PARALLEL_DOWNLOADS, async (layer, i) => {
    if (await blobs.has(layer)) {
      got[i] = Math.max(layer.size, 0);
      files[i] = blobs.path(layer.digest);
      progress(downloadFraction(), `${step(i)}: cached (${mb(layer.size)})`);
      return;
    }
    let lastReportMs = 0;
    files[i] = await blobs.fetch(client, repository, layer, (bytes) => {
      got[i] = bytes;
      const now = Date.now();
      if (now - lastReportMs >= 500) {
        lastReportMs = now;
        progress(downloadFraction(), `${step(i)}: downloading ${mb(bytes)} of ${mb(layer.size)}`);
      }
    });
    progress(downloadFraction(), `${step(i)}: downloaded ${mb(layer.size)}`);
  });

  // Unpacking: 0.6–0.97, by compressed bytes, into a staging directory renamed into the cache when complete.
  await mkdir(imagesDir, { recursive: true });
  await removeStaleTemps(imagesDir, hexOf(digest));
  const staging = path.join(imagesDir, tempName(hexOf(digest)));
  try {
    await mkdir(path.join(staging, 'rootfs'), { recursive: true, mode: 0o755 });
    let done = 0;
    for (let i = 0; i < layers.length; i++) {
      progress(0.6 + (0.37 * done) / totalBytes, `${step(i)}: unpacking ${mb(layers[i]!.size)}`);
      await applyLayer(path.join(staging, 'rootfs'), files[i]!, {
        diffId: diffIds[i],
        label: `image ${label} ${step(i)}`,
      });
      done += Math.max(layers[i]!.size, 0);
    }
    await writeFile(path.join(staging, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    await runTool('sync', ['-f', staging], 'flushing the unpacked image to disk');
    try {
      await rename(staging, imageDir);
    } catch (err) {
      // Another pull of the same image finished first; its copy is as good as ours.
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      await rm(staging, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  return linkInto(imageDir, (await readCachedConfig(imageDir)) ?? config);
}
