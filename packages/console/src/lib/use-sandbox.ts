/** `useSandbox`: an SDK handle on a running sandbox (for agent calls), made once per sandbox ID. */
import { useEffect, useState } from 'react';
import type { Sandbox } from 'tensor-box';
import { attach } from './api';

export function useSandbox(sandboxId: string): { sandbox?: Sandbox; error?: unknown } {
  const [state, setState] = useState<{ sandbox?: Sandbox; error?: unknown }>({});
  useEffect(() => {
    let live = true;
    attach(sandboxId).then(
      (sandbox) => live && setState({ sandbox }),
      (error) => live && setState({ error }),
    );
    return () => {
      live = false;
    };
  }, [sandboxId]);
  return state;
}
