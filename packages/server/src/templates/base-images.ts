/**
 * Base images: what `fromImage` (and a Dockerfile's FROM that names no template) can start from here, honestly.
 * - Debian bookworm, built on this host with mmdebstrap (minbase) from the Debian mirror apt already uses;
 * - images in the OCI/Docker registry the operator configured (`TENSOR_BOX_REGISTRY_URL`, optional credentials),
 *   pulled and flattened into one read-only layer.
 * A base image becomes one shared layer at `<dir>/<key>/rootfs` (`<templateDir>/.base-images`), made once and reused by
 * every template built from it. Other references are NotFound, naming what there is.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  buildDebianRootfs,
  DriverError,
  listRegistryImages,
  parseImageRef,
  pullImage,
  recipeHash,
  resolveImage,
  type RegistryConfig,
} from '@tensor-box/runtime';
import type { components } from '../api/schema.gen.js';
import { ApiError, notFound } from '../errors.js';

type BaseImage = components['schemas']['BaseImage'];

/** What a template built from an image starts with besides the files. */
export interface BaseLayer {
  layer: string;
  /** The image reference as resolved (e.g. with the registry and digest). */
  resolved: string;
  envVars: Record<string, string>;
  user?: string;
  workdir?: string;
}

const DEBIAN_NAMES = new Set([
  'debian',
  'debian:bookworm',
  'debian:12',
  'debian:latest',
  'debian:stable',
  'debian:bookworm-slim',
  'debian:12-slim',
]);
const DEBIAN_RECIPE = {
  suite: 'bookworm',
  packages: ['ca-certificates'],
  customize: ['rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin'],
};

export interface BaseImagesOptions {
  /** Where base image layers go. */
  dir: string;
  cacheDir: string;
  registry?: RegistryConfig;
}

export class BaseImages {
  /** One build or pull per key at a time; concurrent builds of the same base wait for it. */
  private inflight = new Map<string, Promise<BaseLayer>>();

  constructor(private o: BaseImagesOptions) {}

  private debianLayer(): string {
    return path.join(this.o.dir, `debian-bookworm-${recipeHash(DEBIAN_RECIPE)}`, 'rootfs');
  }

  async list(): Promise<BaseImage[]> {
    const out: BaseImage[] = [
      {
        dockerImage: 'debian:bookworm',
        osVersion: '12',
        codename: 'bookworm',
        status: existsSync(this.debianLayer()) ? 'ready' : 'available',
        source: 'mmdebstrap',
        description:
          'Debian 12 minbase with ca-certificates, built here with mmdebstrap (also: debian, debian:12, debian:stable)',
      },
    ];
    if (this.o.registry) {
      let repos: Array<{ repository: string; tags: string[] }> = [];
      try {
        repos = await listRegistryImages(this.o.registry);
      } catch {
        /* an unreachable registry lists nothing; pulling from it says why */
      }
      const host = new URL(this.o.registry.url).host;
      for (const r of repos) {
        for (const tag of r.tags) {
          out.push({
            dockerImage: `${host}/${r.repository}:${tag}`,
            osVersion: '',
            codename: '',
            status: 'available',
            source: 'registry',
            description: `from the configured registry ${host}`,
          });
        }
      }
    }
    return out;
  }

  /** Fails fast (NotFound) on a reference that can come from nowhere, before a build starts. */
  check(ref: string): void {
    if (DEBIAN_NAMES.has(ref)) return;
    let parsed;
    try {
      parsed = parseImageRef(ref);
    } catch (err) {
      throw new ApiError('invalid_argument', (err as Error).message);
    }
    if (!this.o.registry) {
      throw notFound(
        `image '${ref}' not found: no registry is configured (TENSOR_BOX_REGISTRY_URL); base images here: ` +
          `debian:bookworm`,
      );
    }
    const host = new URL(this.o.registry.url).host;
    if (parsed.registry && parsed.registry !== host) {
      throw notFound(`image '${ref}' not found: registry ${parsed.registry} is not the configured one (${host})`);
    }
  }

  /**
   * `check`, and for a registry image also asks the registry whether it has it (NotFound now rather than a failed
   * build later). Other registry trouble (credentials, reachability) is left to the build, whose log says why.
   */
  async verify(ref: string): Promise<void> {
    this.check(ref);
    if (DEBIAN_NAMES.has(ref)) return;
    try {
      await resolveImage({ ref, registry: this.o.registry! });
    } catch (err) {
      if (err instanceof DriverError && err.kind === 'not_found')
        throw notFound(`image '${ref}' not found in ${new URL(this.o.registry!.url).host}: ${err.message}`);
      if (err instanceof DriverError && err.kind === 'invalid_argument')
        throw new ApiError('invalid_argument', err.message);
    }
  }

  /** The layer of a base image, building or pulling it the first time. */
  resolve(ref: string, onLog: (line: string) => void): Promise<BaseLayer> {
    this.check(ref);
    const key = DEBIAN_NAMES.has(ref) ? 'debian' : ref;
    let p = this.inflight.get(key);
    if (!p) {
      p = (key === 'debian' ? this.debian(onLog) : this.pull(ref, onLog)).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async debian(onLog: (line: string) => void): Promise<BaseLayer> {
    const layer = this.debianLayer();
    const base: BaseLayer = {
      layer,
      resolved: 'debian:bookworm',
      envVars: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      user: 'root',
      workdir: '/',
    };
    if (existsSync(layer)) return base;
    onLog('building debian:bookworm with mmdebstrap (cached after the first time)');
    const tmp = `${layer}.partial`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(path.dirname(layer), { recursive: true });
    let last = -1;
    await buildDebianRootfs({
      dest: tmp,
      ...DEBIAN_RECIPE,
      cacheDir: this.o.cacheDir,
      onProgress: (f, m) => {
        const pct = Math.floor(f * 10) * 10;
        if (pct !== last) onLog(`debian:bookworm ${pct}% ${m}`);
        last = pct;
      },
    }).catch(async (err) => {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    });
    await rename(tmp, layer);
    return base;
  }

  private async pull(ref: string, onLog: (line: string) => void): Promise<BaseLayer> {
    const registry = this.o.registry!;
    const parsed = parseImageRef(ref);
    const host = new URL(registry.url).host;
    const name = `${parsed.repository}${parsed.digest ? `@${parsed.digest}` : `:${parsed.tag ?? 'latest'}`}`;
    const key = name.replace(/[^A-Za-z0-9._-]/g, '_');
    const tmp = path.join(this.o.dir, `image-${key}.partial`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(path.dirname(tmp), { recursive: true });
    let config;
    try {
      config = await pullImage({
        ref: name,
        registry,
        dest: tmp,
        cacheDir: this.o.cacheDir,
        onProgress: (_f, m) => onLog(m),
      });
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (err instanceof DriverError && err.kind === 'not_found')
        throw notFound(`image '${ref}' not found in ${host}: ${err.message}`);
      throw err;
    }
    // One layer per image digest: a tag that moves makes a new layer, templates keep theirs.
    const layer = path.join(this.o.dir, `image-${config.digest.replace(/^sha256:/, '')}`, 'rootfs');
    if (existsSync(layer)) await rm(tmp, { recursive: true, force: true });
    else {
      await mkdir(path.dirname(layer), { recursive: true });
      await rename(tmp, layer);
    }
    const envVars: Record<string, string> = {};
    for (const kv of config.env ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) envVars[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return {
      layer,
      resolved: `${host}/${parsed.repository}@${config.digest}`,
      envVars,
      user: config.user || 'root',
      workdir: config.workingDir || '/',
    };
  }
}
