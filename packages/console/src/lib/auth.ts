/**
 * The API key, kept in the browser (localStorage) and nowhere else; the console sends it as X-API-Key like any SDK.
 * `checkApiKey` asks the API once so a wrong key is an error message at sign-in, not a broken page later.
 */
import { useSyncExternalStore } from 'react';

const STORAGE_KEY = 'tensor-box.apiKey';
const listeners = new Set<() => void>();

export function getApiKey(): string | undefined {
  return localStorage.getItem(STORAGE_KEY) || undefined;
}

export function signIn(apiKey: string): void {
  localStorage.setItem(STORAGE_KEY, apiKey);
  listeners.forEach((l) => l());
}

export function signOut(): void {
  localStorage.removeItem(STORAGE_KEY);
  listeners.forEach((l) => l());
}

export function useApiKey(): string | undefined {
  return useSyncExternalStore((l) => {
    listeners.add(l);
    const onStorage = (e: StorageEvent) => e.key === STORAGE_KEY && l();
    window.addEventListener('storage', onStorage);
    return () => {
      listeners.delete(l);
      window.removeEventListener('storage', onStorage);
    };
  }, getApiKey);
}

/** Resolves when the server accepts the key; throws an Error whose message says why not. */
export async function checkApiKey(apiKey: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch('/v2/sandboxes?limit=1', { headers: { 'X-API-Key': apiKey } });
  } catch (err) {
    throw new Error(`cannot reach the server: ${(err as Error).message}`);
  }
  if (res.ok) return;
  const body = await res.json().catch(() => undefined);
  if (res.status === 401) throw new Error(`The server refused this API key (${body?.message ?? 'unauthenticated'}).`);
  throw new Error(body?.message ?? `the server answered ${res.status}`);
}
