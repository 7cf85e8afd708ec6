/**
 * Ties the sandbox connection pools (connections.ts) to the lifecycle, at the one place every lifecycle step passes:
 * the driver. `watchDriver` returns the same driver (same capabilities, same `has*` answers) whose calls also tell the
 * pools what happened:
 * - a runtime starts — `create`, `restore`, or is found alive by `list` (re-adoption after a restart): registered;
 * - a runtime stops — `destroy`, `checkpoint` (pause), `captureLayer` without `leaveRunning` (end of a build): its
 *   pool is dropped and every socket to it closed (see STOPS for when).
 * Watching the driver rather than the services means kill, pause, the expiry sweep, reconciliation and template builds
 * all invalidate the same way, without each remembering to.
 */
import type { Driver, SandboxRuntimeInfo } from '@tensor-box/runtime';
import { sandboxConnections, type SandboxConnections } from './connections.js';

type AnyFn = (...args: unknown[]) => unknown;

const leavesRunning = (opts: unknown) => (opts as { leaveRunning?: boolean } | undefined)?.leaveRunning === true;

/**
 * Calls that stop a sandbox's runtime, and when its pool goes. `destroy` drops it first: the sandbox's network
 * vanishes, and a stream into it would otherwise hang rather than end. A checkpoint (pause) drops it once done: the
 * agent's streams were ended (quiesce) just before, and their last bytes must still reach the client. A checkpoint
 * that leaves the sandbox running (snapshot, fork), or that failed, keeps it: the same processes answer.
 */
const STOPS: Record<string, (args: unknown[]) => 'before' | 'after' | undefined> = {
  destroy: () => 'before',
  checkpoint: (args) => (leavesRunning(args[2]) ? undefined : 'after'),
  captureLayer: (args) => (leavesRunning(args[2]) ? undefined : 'after'),
};

export function watchDriver<D extends Driver>(driver: D, conns: SandboxConnections = sandboxConnections): D {
  const register = (info: SandboxRuntimeInfo) => conns.register(info);
  return new Proxy(driver, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const fn = (value as AnyFn).bind(target);
      if (prop === 'create' || prop === 'restore') {
        return async (...args: unknown[]) => {
          const info = (await fn(...args)) as SandboxRuntimeInfo;
          register(info);
          return info;
        };
      }
      if (prop === 'list') {
        return async (...args: unknown[]) => {
          const infos = (await fn(...args)) as SandboxRuntimeInfo[];
          infos.forEach(register);
          return infos;
        };
      }
      const when = typeof prop === 'string' ? STOPS[prop] : undefined;
      if (when) {
        return async (...args: unknown[]) => {
          const id = args[0] as string;
          const stop = when(args);
          if (stop === 'before') conns.forget(id);
          const out = await fn(...args);
          if (stop === 'after') conns.forget(id);
          return out;
        };
      }
      return fn;
    },
  });
}
