/**
 * What a registry holds: its repository catalog (`/v2/_catalog`) and each repository's tags (`/v2/<name>/tags/list`),
 * both followed through their `Link: <…>; rel="next"` pages. A repository listed in the catalog but gone by the time
 * its tags are asked for is left out.
 */
import { DriverError } from '../driver.js';
import { RegistryClient, type RegistryConfig } from './registry-client.js';

/** Pages followed per list, so a registry that links back to a page cannot keep us looping. */
const MAX_PAGES = 1000;
/** Tag lists fetched at once. */
const PARALLEL_REQUESTS = 4;

async function listAll(
  client: RegistryClient,
  first: string,
  scope: string,
  key: 'repositories' | 'tags',
  what: string,
): Promise<string[]> {
  const out: string[] = [];
  let next: string | undefined = first;
  for (let page = 0; next && page < MAX_PAGES; page++) {
    const res = await client.get(next, { scope, accept: ['application/json'] });
    if (!res.ok) throw await client.fail(res, what);
    let doc: Record<string, unknown>;
    try {
      doc = (await res.json()) as Record<string, unknown>;
    } catch {
      throw new DriverError(
        'failed_precondition',
        `registry ${client.host} answered ${what} with something that is not JSON`,
      );
    }
    const items = doc[key];
    if (Array.isArray(items)) out.push(...items.filter((x): x is string => typeof x === 'string'));
    const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')?.[1];
    // The next page may be given as a path or as a full URL; we keep talking to the configured base URL either way.
    next = link
      ? link.startsWith('/')
        ? link
        : (() => {
            const u = new URL(link);
            return `${u.pathname}${u.search}`;
          })()
      : undefined;
  }
  return out;
}

/**
 * Lists the registry's repositories and their tags, sorted by name. Throws `DriverError` like `pullImage` (a registry
 * without a catalog answers `not_found`).
 *
 * @example
 * await listRegistryImages({ url: 'http://127.0.0.1:5000' }) // [{ repository: 'org/app', tags: ['1.2', 'latest'] }]
 */
export async function listRegistryImages(
  registry: RegistryConfig,
): Promise<Array<{ repository: string; tags: string[] }>> {
  const client = new RegistryClient(registry);
  const repositories = [
    ...new Set(
      await listAll(client, '/v2/_catalog?n=100', 'registry:catalog:*', 'repositories', 'the repository catalog'),
    ),
  ];
  const out: Array<{ repository: string; tags: string[] } | undefined> = [];
  let next = 0;
  const worker = async () => {
    while (next < repositories.length) {
      const i = next++;
      const repository = repositories[i]!;
      try {
        const tags = await listAll(
          client,
          `/v2/${repository}/tags/list?n=1000`,
          `repository:${repository}:pull`,
          'tags',
          `the tags of ${repository}`,
        );
        out[i] = { repository, tags: [...new Set(tags)].sort() };
      } catch (err) {
        if (!(err instanceof DriverError && err.kind === 'not_found')) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_REQUESTS, repositories.length) }, worker));
  return out
    .filter((x): x is { repository: string; tags: string[] } => x !== undefined)
    .sort((a, b) => (a.repository < b.repository ? -1 : 1));
}
