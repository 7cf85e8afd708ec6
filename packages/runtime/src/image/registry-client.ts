/**
 * A client for one registry's HTTP API v2 (https://distribution.github.io/distribution/spec/api/): anonymous, Basic and
 * Bearer-token auth, driven by the registry's `WWW-Authenticate` challenge, and the one place where HTTP answers become
 * `DriverError`s. A request goes out without credentials first; a 401 says which scheme the registry wants, and the
 * client remembers it (Basic) or the token per scope (Bearer) for the requests that follow. A request that is still
 * refused after authenticating, or any other failure, names the registry and what happened.
 */
import { DriverError } from '../driver.js';

/** A registry the operator configured. */
export interface RegistryConfig {
  /** Base URL, e.g. `http://127.0.0.1:5000` or `https://reg.example.com`. */
  url: string;
  username?: string;
  password?: string;
}

/** Limits on manifests, configs and token answers, which are read into memory. */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;
/** How long a manifest, catalog or token request may take. Blob downloads use their own idle timeout. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Registry error codes that mean "no such thing" (distribution's errcode list). */
const NOT_FOUND_CODES = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'BLOB_UNKNOWN', 'TAG_INVALID']);

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export interface RequestOptions {
  /** Token scope this request needs, e.g. `repository:org/app:pull` or `registry:catalog:*`. */
  scope: string;
  accept?: string[];
  /** Replaces the default timeout (blob downloads pass their own idle-timeout controller). */
  signal?: AbortSignal;
}

export class RegistryClient {
  /** Host (and port) of the registry, as an image reference names it and as messages do. */
  readonly host: string;
  private readonly base: string;
  private readonly basic?: string;
  private useBasic = false;
  private readonly tokens = new Map<string, string>();

  constructor(readonly config: RegistryConfig) {
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new DriverError('failed_precondition', `registry URL '${config.url}' is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new DriverError('failed_precondition', `registry URL '${config.url}' must be http:// or https://`);
    }
    this.host = url.host;
    this.base = url.href.replace(/\/+$/, '');
    if (config.username !== undefined) {
      this.basic = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
    }
  }

  /**
   * GETs `path` (starting with `/v2/`), authenticating as the registry asks. Returns any answer but 401; the caller
   * turns a non-2xx one into an error with `fail`.
   */
  async get(path: string, o: RequestOptions): Promise<Response> {
    let res = await this.send(path, o);
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get('www-authenticate') ?? '');
    await res.body?.cancel();
    if (challenge?.scheme === 'bearer') {
      this.tokens.set(o.scope, await this.fetchToken(challenge, o.scope));
    } else if (challenge?.scheme === 'basic' || challenge === undefined) {
      if (!this.basic)
        throw new DriverError(
          'failed_precondition',
          `registry ${this.host} requires credentials and none are configured`,
        );
      if (this.useBasic) throw this.refused();
      this.useBasic = true;
    } else {
      throw new DriverError(
        'failed_precondition',
        `registry ${this.host} asks for '${challenge.scheme}' authentication, which is not supported`,
      );
    }
    res = await this.send(path, o);
    if (res.status === 401) {
      await res.body?.cancel();
      throw this.refused();
    }
    return res;
  }

  /** GETs a JSON document (manifest, config, list), at most MAX_DOCUMENT_BYTES. */
  async getDocument(
    path: string,
    o: RequestOptions & { what: string },
  ): Promise<{ body: Buffer; contentType: string }> {
    const res = await this.get(path, o);
    if (!res.ok) throw await this.fail(res, o.what);
    return {
      body: await readLimited(res, MAX_DOCUMENT_BYTES, `${o.what} from registry ${this.host}`),
      contentType: res.headers.get('content-type') ?? '',
    };
  }

  /** Turns a non-2xx answer into a DriverError naming the registry, what was asked for and the registry's own words. */
  async fail(res: Response, what: string): Promise<DriverError> {
    let codes: string[] = [];
    let detail = '';
    try {
      const text = (await readLimited(res, 64 * 1024, 'error')).toString('utf8');
      try {
        const errors = (JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> }).errors ?? [];
        codes = errors.map((e) => e.code ?? '');
        detail = errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
      } catch {
        detail = text.trim().slice(0, 200);
      }
    } catch {
      /* no body */
    }
    const said = detail ? ` (${detail})` : '';
    if (res.status === 404 || codes.some((c) => NOT_FOUND_CODES.has(c))) {
      return new DriverError('not_found', `${what} was not found in registry ${this.host}${said}`);
    }
    if (res.status === 401) return this.refused();
    if (res.status === 403)
      return new DriverError('failed_precondition', `registry ${this.host} denied access to ${what}${said}`);
    return new DriverError(
      'failed_precondition',
      `registry ${this.host} answered HTTP ${res.status} for ${what}${said}`,
    );
  }

  private refused(): DriverError {
    const who = this.config.username !== undefined ? ` for user '${this.config.username}'` : '';
    return new DriverError('failed_precondition', `registry ${this.host} refused the credentials${who}`);
  }

  private async send(path: string, o: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = {};
    if (o.accept) headers.accept = o.accept.join(', ');
    const token = this.tokens.get(o.scope);
    if (token) headers.authorization = `Bearer ${token}`;
    else if (this.useBasic && this.basic) headers.authorization = this.basic;
    try {
      return await fetch(`${this.base}${path}`, {
        headers,
        signal: o.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw unreachable(`registry ${this.host}`, err);
    }
  }

  /**
   * Bearer token flow (https://distribution.github.io/distribution/spec/auth/token/): GET the realm with Basic
   * credentials.
   */
  private async fetchToken(c: Challenge, scope: string): Promise<string> {
    const realm = c.params.realm;
    if (!realm)
      throw new DriverError('failed_precondition', `registry ${this.host} asks for a Bearer token but names no realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new DriverError(
        'failed_precondition',
        `registry ${this.host} names a token realm that is not a URL: '${realm}'`,
      );
    }
    if (c.params.service) url.searchParams.set('service', c.params.service);
    url.searchParams.set('scope', c.params.scope ?? scope);
    const headers: Record<string, string> = {};
    if (this.basic) headers.authorization = this.basic;
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      throw unreachable(`token server ${url.host} of registry ${this.host}`, err);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      const who =
        this.config.username !== undefined ? `the credentials for user '${this.config.username}'` : 'anonymous access';
      throw new DriverError(
        'failed_precondition',
        `token server ${url.host} of registry ${this.host} refused ${who} (HTTP ${res.status})`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new DriverError(
        'failed_precondition',
        `token server ${url.host} of registry ${this.host} answered HTTP ${res.status}`,
      );
    }
    let answer: { token?: string; access_token?: string };
    try {
      answer = JSON.parse((await readLimited(res, MAX_DOCUMENT_BYTES, 'token')).toString('utf8')) as typeof answer;
    } catch {
      throw new DriverError(
        'failed_precondition',
        `token server ${url.host} of registry ${this.host} answered something that is not JSON`,
      );
    }
    const token = answer.token ?? answer.access_token;
    if (!token)
      throw new DriverError('failed_precondition', `token server ${url.host} of registry ${this.host} sent no token`);
    return token;
  }
}

/** Parses the first challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
  for (const p of m[2]!.matchAll(re))
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

/**
 * Reads a response body into memory, refusing one larger than `maxBytes` (a registry must not make us buffer
 * gigabytes).
 */
export async function readLimited(res: Response, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of bodyChunks(res)) {
    n += chunk.length;
    if (n > maxBytes) throw new DriverError('failed_precondition', `${what} is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A response body as Buffers; leaving the loop early cancels the rest of the download. */
export async function* bodyChunks(res: Response): AsyncGenerator<Buffer> {
  if (!res.body) return;
  const reader = res.body.getReader();
  let done = false;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
    done = true;
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** A fetch that failed below HTTP (refused, DNS, TLS, timeout), as a message that says which server and why. */
export function unreachable(who: string, err: unknown): DriverError {
  const e = err as Error & { cause?: Error & { code?: string } };
  const why =
    e.name === 'TimeoutError' || e.name === 'AbortError'
      ? 'the request timed out'
      : (e.cause?.code ?? e.cause?.message ?? e.message);
  return new DriverError('failed_precondition', `${who} is unreachable: ${why}`);
}
