/**
 * `usePoll`: calls `fn` now and every `intervalMs` (0: only now and on `refresh()`; not while the tab is hidden, not
 * overlapping itself) and keeps the last result and error. `refresh()` polls at once (after an action). Changing `deps`
 * starts over.
 */
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Poll<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  refresh(): Promise<void>;
}

export function usePoll<T>(fn: () => Promise<T>, intervalMs: number, deps: unknown[]): Poll<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const gen = useRef(0);
  const busy = useRef(false);

  const run = useCallback(async (g: number) => {
    if (busy.current) return;
    busy.current = true;
    try {
      const data = await fnRef.current();
      if (g === gen.current) setState({ data, loading: false });
    } catch (error) {
      if (g === gen.current) setState((s) => ({ data: s.data, error, loading: false }));
    } finally {
      busy.current = false;
    }
  }, []);

  useEffect(() => {
    const g = ++gen.current;
    busy.current = false;
    setState({ loading: true });
    void run(g);
    if (intervalMs <= 0) return;
    const t = setInterval(() => {
      if (document.visibilityState !== 'hidden') void run(g);
    }, intervalMs);
    return () => clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const refresh = useCallback(async () => {
    busy.current = false;
    setState((s) => ({ ...s, loading: true }));
    await run(gen.current);
  }, [run]);
  return { ...state, refresh };
}
