/**
 * The four manifest formats a registry may answer with (Docker schema2 manifest and manifest list, OCI manifest and
 * index), reduced to what a pull needs: for an index, the linux/amd64 entry; for a manifest, its config and layers; for
 * a config, what a sandbox starts with. Schema1 manifests (deprecated since 2017) are refused with a clear message.
 */
import { DriverError } from '../driver.js';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

/** What a pull sends as `Accept` for a manifest. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest];

/** Layer media types we can unpack; compression is read from the data itself (gzip, zstd or none). */
const LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

/** The platform a pull picks from an index. */
export const PLATFORM = { os: 'linux', architecture: 'amd64' } as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export type ParsedManifest =
  | { kind: 'index'; manifests: Descriptor[] }
  | { kind: 'manifest'; config: Descriptor; layers: Descriptor[] };

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function descriptor(d: unknown, what: string): Descriptor {
  const o = d as Partial<Descriptor> | null;
  if (!o || typeof o.digest !== 'string' || typeof o.mediaType !== 'string') {
    throw new DriverError('failed_precondition', `${what} has a malformed descriptor`);
  }
  if (!DIGEST.test(o.digest))
    throw new DriverError('failed_precondition', `${what} names digest '${o.digest}', which is not sha256`);
  return {
    mediaType: o.mediaType,
    digest: o.digest,
    size: typeof o.size === 'number' ? o.size : -1,
    platform: o.platform,
  };
}

/** Parses a manifest or index; `contentType` is the registry's header (an OCI index may carry no `mediaType` field). */
export function parseManifest(body: Buffer, contentType: string, what: string): ParsedManifest {
  let doc: { schemaVersion?: number; mediaType?: string; manifests?: unknown[]; config?: unknown; layers?: unknown[] };
  try {
    doc = JSON.parse(body.toString('utf8')) as typeof doc;
  } catch {
    throw new DriverError('failed_precondition', `${what} is not JSON`);
  }
  const type = doc.mediaType ?? contentType.split(';')[0]!.trim();
  if (
    doc.schemaVersion === 1 ||
    /^application\/vnd\.docker\.distribution\.manifest\.v1\+(prettyjws|json)$/.test(type)
  ) {
    throw new DriverError(
      'failed_precondition',
      `${what} is a Docker schema1 manifest, which is not supported (push it again with a current tool)`,
    );
  }
  if (Array.isArray(doc.manifests)) {
    return { kind: 'index', manifests: doc.manifests.map((m) => descriptor(m, what)) };
  }
  if (Array.isArray(doc.layers) && doc.config) {
    const layers = doc.layers.map((l) => descriptor(l, what));
    for (const l of layers) {
      if (!LAYER_TYPES.has(l.mediaType)) {
        throw new DriverError(
          'failed_precondition',
          `${what} has a layer of type '${l.mediaType}', which cannot be unpacked into a root filesystem`,
        );
      }
    }
    return { kind: 'manifest', config: descriptor(doc.config, what), layers };
  }
  throw new DriverError(
    'failed_precondition',
    `${what} is neither an image manifest nor an index (media type '${type}')`,
  );
}

const platformName = (p: Descriptor['platform']) =>
  [p?.os ?? '?', p?.architecture ?? '?', p?.variant].filter(Boolean).join('/');

/** Picks the linux/amd64 entry of an index; none is an error that lists the platforms the index has. */
export function pickPlatform(manifests: Descriptor[], what: string): Descriptor {
  const fits = manifests.filter(
    (m) => m.platform?.os === PLATFORM.os && m.platform?.architecture === PLATFORM.architecture,
  );
  // Several amd64 entries differ by micro-architecture variant (v2, v3…); the plain one runs everywhere.
  const pick = fits.find((m) => !m.platform?.variant) ?? fits[0];
  if (pick) return pick;
  // Attestation manifests (buildx) say unknown/unknown; they are not platforms anyone can choose.
  const have = manifests.map((m) => platformName(m.platform)).filter((p) => p !== 'unknown/unknown');
  throw new DriverError(
    'failed_precondition',
    `${what} has no ${PLATFORM.os}/${PLATFORM.architecture} image; it has: ` +
      `${have.length ? [...new Set(have)].join(', ') : 'no platforms'}`,
  );
}

/** How a sandbox from this image starts: the runtime part of the image config. */
export interface ImageConfig {
  /**
   * Digest of the linux/amd64 image manifest (what the rootfs cache is keyed by; `repo@digest` pulls the same rootfs).
   */
  digest: string;
  /** `NAME=value` entries. */
  env: string[];
  cmd?: string[];
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
}

/** Parses an image config blob: the runtime settings and the uncompressed digests (`diff_ids`) of its layers. */
export function parseImageConfig(
  body: Buffer,
  manifestDigest: string,
  what: string,
): { config: ImageConfig; diffIds: string[] } {
  let doc: {
    os?: string;
    architecture?: string;
    config?: {
      Env?: string[] | null;
      Cmd?: string[] | null;
      Entrypoint?: string[] | null;
      WorkingDir?: string;
      User?: string;
    } | null;
    rootfs?: { diff_ids?: string[] };
  };
  try {
    doc = JSON.parse(body.toString('utf8')) as typeof doc;
  } catch {
    throw new DriverError('failed_precondition', `the config of ${what} is not JSON`);
  }
  // A single-platform manifest has no index to choose from; its config says what it runs on.
  if ((doc.os && doc.os !== PLATFORM.os) || (doc.architecture && doc.architecture !== PLATFORM.architecture)) {
    throw new DriverError(
      'failed_precondition',
      `${what} is a ${doc.os}/${doc.architecture} image, not ${PLATFORM.os}/${PLATFORM.architecture}`,
    );
  }
  const c = doc.config ?? {};
  const config: ImageConfig = { digest: manifestDigest, env: Array.isArray(c.Env) ? c.Env : [] };
  if (Array.isArray(c.Cmd)) config.cmd = c.Cmd;
  if (Array.isArray(c.Entrypoint)) config.entrypoint = c.Entrypoint;
  if (c.WorkingDir) config.workingDir = c.WorkingDir;
  if (c.User) config.user = c.User;
  return { config, diffIds: doc.rootfs?.diff_ids ?? [] };
}
