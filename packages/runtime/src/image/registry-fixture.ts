/**
 * Test fixtures for the image module (used by image.test.ts only): a real registry (Debian's `docker-registry`,
 * distribution v2) on loopback with filesystem storage in a temp dir, optionally behind htpasswd Basic auth or token
 * auth; the token issuer for the latter (the one fake part: a small JWT signer instead of a real auth server — the
 * registry itself still sends the challenge and verifies the token); OCI layouts built with `umoci` and pushed with
 * `skopeo`; and a minimal tar writer plus raw blob/manifest pushes for the archives umoci cannot make (opaque
 * whiteouts, hostile paths, other platforms).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

/** Fails (never skips) when a tool is missing: packages/runtime/setup.sh installs them all. */
export function requireTools(...cmds: string[]): void {
  for (const cmd of cmds) {
    const r = spawnSync('sh', ['-c', `command -v ${cmd}`]);
    assert.equal(r.status, 0, `${cmd} is not installed — run: bash packages/runtime/setup.sh`);
  }
}

export const tmpDir = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), `tb-image-${prefix}-`));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface TestRegistry {
  url: string;
  host: string;
  storageDir: string;
  /** Access-log lines so far (requests the registry served). */
  log: string[];
  stop(): Promise<void>;
}

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; user: string; password: string }
  | { kind: 'token'; realm: string; service: string; issuer: string; certFile: string };

/** Starts docker-registry on a free loopback port and waits until `/v2/` answers. */
export async function startRegistry(auth: RegistryAuth = { kind: 'none' }): Promise<TestRegistry> {
  const dir = tmpDir('registry');
  const port = await freePort();
  let authYaml = '';
  if (auth.kind === 'htpasswd') {
    const file = path.join(dir, 'htpasswd');
    writeFileSync(file, execFileSync('htpasswd', ['-Bbn', auth.user, auth.password]));
    authYaml = `auth:\n  htpasswd:\n    realm: test-realm\n    path: ${file}\n`;
  } else if (auth.kind === 'token') {
    authYaml =
      `auth:\n  token:\n    realm: ${auth.realm}\n    service: ${auth.service}\n    issuer: ` +
      `${auth.issuer}\n    rootcertbundle: ${auth.certFile}\n`;
  }
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:\n  level: warn\n  accesslog:\n    disabled: false',
      `storage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\n  delete:\n    enabled: true`,
      `http:\n  addr: 127.0.0.1:${port}\n  secret: ${randomBytes(8).toString('hex')}`,
      authYaml,
    ].join('\n'),
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const feed = (b: Buffer) => log.push(...b.toString('utf8').split('\n').filter(Boolean));
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 200 || res.status === 401) break;
    } catch {
      /* not yet */
    }
    if (i > 100 || child.exitCode !== null) throw new Error(`docker-registry did not start:\n${log.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    storageDir: path.join(dir, 'data'),
    log,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A token issuer for the registry's token auth: checks Basic credentials, grants what is asked, signs an RS256 JWT. */
export async function startTokenIssuer(o: { user: string; password: string; service: string; issuer: string }) {
  const dir = tmpDir('tokens');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=tb-test-tokens',
    ],
    {
      stdio: 'ignore',
    },
  );
  const key = createPrivateKey(readFileSync(keyFile));
  const x5c = new X509Certificate(readFileSync(certFile)).raw.toString('base64');
  const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const u = new URL(req.url ?? '/', 'http://x');
    const expected = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"wrong credentials"}');
      return;
    }
    const access = u.searchParams.getAll('scope').flatMap((s) =>
      s.split(' ').map((one) => {
        const parts = one.split(':');
        return { type: parts[0], name: parts.slice(1, -1).join(':'), actions: parts[parts.length - 1]!.split(',') };
      }),
    );
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [x5c] }));
    const claims = b64url(
      JSON.stringify({
        iss: o.issuer,
        sub: o.user,
        aud: u.searchParams.get('service') ?? o.service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    );
    const token = `${header}.${claims}.${b64url(sign('sha256', Buffer.from(`${header}.${claims}`), key))}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certFile,
    requests: () => requests,
    stop: () => new Promise<void>((r) => server.close(() => (rmSync(dir, { recursive: true, force: true }), r()))),
  };
}

/** Builds an OCI layout with umoci: one layer per step (each step edits the bundle's rootfs), then the config. */
export function umociImage(o: {
  layout: string;
  tag: string;
  steps: Array<(rootfs: string) => void>;
  extraLayers?: Buffer[];
  config?: string[];
}): void {
  const run = (...args: string[]) => execFileSync('umoci', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const image = `${o.layout}:${o.tag}`;
  run('init', '--layout', o.layout);
  run('new', '--image', image);
  const bundle = `${o.layout}-bundle`;
  run('unpack', '--image', image, bundle);
  for (const step of o.steps) {
    step(path.join(bundle, 'rootfs'));
    run('repack', '--refresh-bundle', '--image', image, bundle);
  }
  for (const [i, tar] of (o.extraLayers ?? []).entries()) {
    const file = `${o.layout}-extra-${i}.tar`;
    writeFileSync(file, tar);
    run('raw', 'add-layer', '--image', image, file);
  }
  if (o.config?.length) run('config', '--image', image, ...o.config);
}

/** Pushes with skopeo; asynchronous because the token issuer skopeo asks lives in this process. */
export async function skopeoPush(layoutImage: string, dest: string, extra: string[] = []): Promise<void> {
  await promisify(execFile)('skopeo', [
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    ...extra,
    `oci:${layoutImage}`,
    `docker://${dest}`,
  ]);
}

export interface TarSpec {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block';
  data?: string | Buffer;
  /** Device numbers of a 'char' or 'block' entry. */
  dev?: [number, number];
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtimeS?: number;
  /** PAX records (e.g. `SCHILY.xattr.user.x`), written as an extended header before the entry. */
  pax?: Record<string, string>;
}

/** A minimal ustar writer (with PAX headers) for hand-made layers. */
export function makeTar(entries: TarSpec[]): Buffer {
  const blocks: Buffer[] = [];
  const header = (name: string, flag: string, size: number, e: TarSpec) => {
    const h = Buffer.alloc(512);
    const put = (s: string, off: number, len: number) => h.write(s.slice(0, len), off, 'utf8');
    const oct = (n: number, off: number, len: number) => put(`${n.toString(8).padStart(len - 1, '0')}\0`, off, len);
    put(name, 0, 100);
    oct(e.mode ?? (flag === '5' ? 0o755 : 0o644), 100, 8);
    oct(e.uid ?? 0, 108, 8);
    oct(e.gid ?? 0, 116, 8);
    oct(size, 124, 12);
    oct(e.mtimeS ?? 1_700_000_000, 136, 12);
    h.write('        ', 148, 'latin1');
    h.write(flag, 156, 'latin1');
    put(e.linkname ?? '', 157, 100);
    h.write('ustar\0' + '00', 257, 'latin1');
    if (e.dev) {
      oct(e.dev[0], 329, 8);
      oct(e.dev[1], 337, 8);
    }
    let sum = 0;
    for (const b of h) sum += b;
    put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    return h;
  };
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
  for (const e of entries) {
    if (e.pax) {
      const body = Buffer.concat(
        Object.entries(e.pax).map(([k, v]) => {
          const rec = ` ${k}=${v}\n`;
          let len = rec.length + 1;
          while (`${len}${rec}`.length !== len) len++;
          return Buffer.from(`${len}${rec}`);
        }),
      );
      blocks.push(header('PaxHeaders/x', 'x', body.length, e), pad(body));
    }
    const data = Buffer.from(e.data ?? '');
    const flag = { file: '0', dir: '5', symlink: '2', hardlink: '1', char: '3', block: '4' }[e.type ?? 'file'];
    blocks.push(header(e.name, flag, flag === '0' ? data.length : 0, e));
    if (flag === '0') blocks.push(pad(data));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** Monolithic blob upload (POST then PUT ?digest=). */
export async function pushBlob(url: string, repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202, `blob upload start: ${await start.text()}`);
  const loc = new URL(start.headers.get('location')!, url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, {
    method: 'PUT',
    body: new Uint8Array(data),
    headers: { 'content-type': 'application/octet-stream' },
  });
  assert.equal(put.status, 201, `blob upload: ${await put.text()}`);
  return digest;
}

export async function pushManifest(
  url: string,
  repo: string,
  reference: string,
  mediaType: string,
  doc: unknown,
): Promise<{ digest: string; size: number }> {
  const body = Buffer.from(JSON.stringify(doc));
  const res = await fetch(`${url}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    body: new Uint8Array(body),
    headers: { 'content-type': mediaType },
  });
  assert.equal(res.status, 201, `manifest PUT ${repo}:${reference}: ${await res.text()}`);
  return { digest: sha256(body), size: body.length };
}

/**
 * Pushes a single-layer image by hand (no umoci): `layer` is sent as given (plain tar or gzip), with OCI or Docker
 * schema2 media types.
 */
export async function pushRawImage(o: {
  url: string;
  repo: string;
  tag: string;
  tar: Buffer;
  gzip?: boolean;
  architecture?: string;
  docker?: boolean;
}) {
  const blob = o.gzip ? gzipSync(o.tar) : o.tar;
  const layerDigest = await pushBlob(o.url, o.repo, blob);
  const config = Buffer.from(
    JSON.stringify({
      architecture: o.architecture ?? 'amd64',
      os: 'linux',
      config: { Env: [`ARCH=${o.architecture ?? 'amd64'}`] },
      rootfs: { type: 'layers', diff_ids: [sha256(o.tar)] },
    }),
  );
  const configDigest = await pushBlob(o.url, o.repo, config);
  const types = o.docker
    ? {
        manifest: 'application/vnd.docker.distribution.manifest.v2+json',
        config: 'application/vnd.docker.container.image.v1+json',
        layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      }
    : {
        manifest: 'application/vnd.oci.image.manifest.v1+json',
        config: 'application/vnd.oci.image.config.v1+json',
        layer: `application/vnd.oci.image.layer.v1.tar${o.gzip ? '+gzip' : ''}`,
      };
  const pushed = await pushManifest(o.url, o.repo, o.tag, types.manifest, {
    schemaVersion: 2,
    mediaType: types.manifest,
    config: { mediaType: types.config, digest: configDigest, size: config.length },
    layers: [{ mediaType: types.layer, digest: layerDigest, size: blob.length }],
  });
  return { ...pushed, mediaType: types.manifest, layerDigest };
}

/** Where the registry's filesystem driver keeps a blob's bytes (to corrupt one on purpose). */
export function registryBlobFile(storageDir: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return path.join(storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

export function writeTree(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
}
