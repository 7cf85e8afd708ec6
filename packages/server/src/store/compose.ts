/**
 * Assembles a Store from its repositories: every method of each repository is bound onto one object, so callers
 * keep writing `store.getSandbox(…)` while each repository stays a small class of its own. Two repositories naming
 * the same method is a programming error and throws at once.
 */
import type { Store, StoreRepositories } from './store.js';
import type { TeamStore } from './teams.js';

/** The methods of an object's class chain (not Object's). */
function methodNames(obj: object): string[] {
  const names = new Set<string>();
  for (let p = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name !== 'constructor' && typeof (p as Record<string, unknown>)[name] === 'function') names.add(name);
    }
  }
  return [...names];
}

/**
 * The base class of the stores: its instances are typed as a Store, and the subclass's constructor gives them the
 * Store's methods with `bindRepositories` (the subclass adds `close`). Abstract: it has no methods of its own.
 */
export const ComposedStore = class {} as unknown as abstract new () => Store;

/**
 * Binds the public methods of `repos` onto `target` (a store object whose class declares the Store interface) and
 * sets its `teams`. Methods whose names start with `_` stay private to their repository.
 *
 * @example
 * bindRepositories(this, { sandboxes: new SqliteSandboxes(db), ... }, new SqliteTeamStore(db));
 */
export function bindRepositories(target: object, repos: StoreRepositories, teams: TeamStore): void {
  const t = target as Record<string, unknown>;
  const owner = new Map<string, string>();
  for (const [repoName, repo] of Object.entries(repos) as Array<[string, object]>) {
    for (const name of methodNames(repo)) {
      if (name.startsWith('_')) continue;
      if (owner.has(name)) throw new Error(`store: both ${owner.get(name)} and ${repoName} define ${name}`);
      if (name in t) throw new Error(`store: ${repoName}.${name} would hide the store's own ${name}`);
      owner.set(name, repoName);
      const fn = (repo as Record<string, (...args: unknown[]) => unknown>)[name];
      t[name] = fn.bind(repo);
    }
  }
  Object.defineProperty(t, 'teams', { value: teams, enumerable: true });
}
