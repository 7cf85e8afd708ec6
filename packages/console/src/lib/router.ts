/**
 * A tiny history router: the console's pages live under `/dashboard/…` (paths the REST API does not use, so a reload
 * of any page reaches the server's SPA fallback, never an API route). `usePath()` re-renders on navigation.
 */
import { useEffect, useState } from 'react';

export const BASE = '/dashboard';

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

/** Goes to a console path (`/sandboxes`, `/templates/x`, …; BASE is added). */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = to.startsWith(BASE) ? to : BASE + to;
  if (url === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}

/** The current path below BASE (`/sandboxes/abc/terminal`), and the query. */
export function usePath(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  const p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) || '/' : '/';
  return { path: p, query: new URLSearchParams(location.search) };
}

/** Matches `/sandboxes/:id/:tab?` style patterns; returns the named parts or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  const out: Record<string, string> = {};
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    const w = want[i];
    if (w === undefined) return undefined;
    if (w.startsWith(':')) {
      const optional = w.endsWith('?');
      if (got[i] === undefined) {
        if (optional) continue;
        return undefined;
      }
      out[w.slice(1).replace(/\?$/, '')] = decodeURIComponent(got[i]);
    } else if (w !== got[i]) return undefined;
  }
  return out;
}

/** The href of a console path, for links. */
export const href = (to: string) => BASE + to;
