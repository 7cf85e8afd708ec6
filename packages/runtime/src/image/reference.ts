/**
 * Image references (`alpine`, `org/app:1.2`, `127.0.0.1:5000/org/app@sha256:…`), parsed with the grammar of Docker's
 * distribution/reference package: the first path component is a registry host only when it contains a `.` or a `:`, or
 * is `localhost`; repository components are lower case; a tag is up to 128 word characters, dots and dashes. Only
 * sha256 digests are accepted because sha256 is what we can verify blobs against.
 */
import { DriverError } from '../driver.js';

/** A parsed image reference. Exactly what was written; `tag` is `latest` when neither a tag nor a digest was given. */
export interface ImageRef {
  /** Registry host (with port), when the reference names one. */
  registry?: string;
  /** Repository path, e.g. `org/app`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>`; wins over the tag when both are given. */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const DOMAIN =
  /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?$/;
/** distribution/reference's limit on the whole name (registry and repository). */
const NAME_MAX_CHARS = 255;

const invalid = (ref: string, why: string) =>
  new DriverError('invalid_argument', `invalid image reference '${ref}': ${why}`);

/**
 * Parses an image reference; throws `DriverError('invalid_argument')` for a malformed one.
 *
 * @example
 * parseImageRef('alpine')                      // { repository: 'alpine', tag: 'latest' }
 * parseImageRef('127.0.0.1:5000/org/app:1.2')  // { registry: '127.0.0.1:5000', repository: 'org/app', tag: '1.2' }
 */
export function parseImageRef(ref: string): ImageRef {
  if (typeof ref !== 'string' || ref.trim() === '') throw invalid(String(ref), 'it is empty');
  let rest = ref.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest))
      throw invalid(ref, `'${digest}' is not a sha256 digest (sha256:<64 lower-case hex digits>)`);
  }
  let tag: string | undefined;
  // A colon after the last slash separates the tag; one before it belongs to the registry's port.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, `'${tag}' is not a valid tag`);
  }
  let registry: string | undefined;
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      if (!DOMAIN.test(first)) throw invalid(ref, `'${first}' is not a valid registry host`);
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  if (rest === '') throw invalid(ref, 'it names no repository');
  for (const c of rest.split('/')) {
    if (!COMPONENT.test(c)) {
      throw invalid(
        ref,
        `repository component '${c}' must be lower-case letters, digits and single separators (. _ __ -)`,
      );
    }
  }
  if ((registry ? registry.length + 1 : 0) + rest.length > NAME_MAX_CHARS)
    throw invalid(ref, `the name is longer than ${NAME_MAX_CHARS} characters`);
  const out: ImageRef = { repository: rest };
  if (registry) out.registry = registry;
  if (tag) out.tag = tag;
  if (digest) out.digest = digest;
  if (!tag && !digest) out.tag = 'latest';
  return out;
}

/** The reference as text (`registry/repository:tag@digest`), for messages and logs. */
export function formatImageRef(r: ImageRef): string {
  return (
    `${r.registry ? `${r.registry}/` : ''}${r.repository}` +
    `${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`
  );
}
