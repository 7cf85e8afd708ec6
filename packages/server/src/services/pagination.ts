/** List pages: opaque cursors (base64url JSON of the last item's sort key), paging fetched rows, metadata filters. */
import { invalid } from '../errors.js';

export function encodeCursor(key: object): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T>(token: string, check: (v: any) => boolean): T {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (check(v)) return v as T;
  } catch {
    /* fall through */
  }
  throw invalid('nextToken is not a valid cursor');
}

/** Parses E2B's metadata filter: a URL-encoded query string `k=v&k2=v2`. */
export function parseMetadataQuery(raw: string | undefined): Record<string, string> | undefined {
  if (!raw) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) out[k] = v;
  return out;
}

/**
 * One page from rows fetched with `limit + 1` (the extra row says there is more): the first `limit` rows presented,
 * and the cursor of the last one when more follow.
 */
export function pageOf<R, T>(rows: R[], limit: number, present: (r: R) => T, keyOf: (r: R) => object) {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(present),
    nextToken: rows.length > limit && last ? encodeCursor(keyOf(last)) : undefined,
  };
}
