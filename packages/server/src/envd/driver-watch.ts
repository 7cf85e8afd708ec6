/**
 * Ties the sandbox connection pools (connections.ts) to the lifecycle, at the one place every lifecycle step passes:
 * the driver. `watchDriver` returns the same driver (same capabilities, same `has*` answers) whose calls also tell the
 * pools what happened:
 * - a runtime starts — `create`, `restore`, or is found alive by `list` (re-adoption after a restart): registered;
 * - a runtime stops — `destroy`, `checkpoint` (pause), `captureLayer` without `leaveRunning` (end of a build): its
 *   pool is dropped and every socket to it closed, before the call, so nothing is written to a sandbox that goes;
 * - a checkpoint that leaves it running (snapshot, fork) drops its sockets only (a checkpoint need not keep them).
 * Watching the driver rather than the services means kill, pause, the expiry sweep, reconciliation and template builds
 * all invalidate the same way, without each remembering to.
 */
import type { Driver, SandboxRuntimeInfo } from '@tensor-box/runtime';
import { sandboxConnections, type SandboxConnections } from './connections.js';

type AnyFn = (...args: unknown[]) => unknown;

const leavesRunning = (opts: unknown) => (opts as { leaveRunning?: boolean } | undefined)?.leaveRunning === true;

/** Calls that end a sandbox's sockets: whether the runtime stops ('stop'), only its sockets go ('drop'), or neither. */
const STOPS: Record<string, (args: unknown[]) => 'stop' | 'drop' | undefined> = {
  destroy: () => 'stop',
  checkpoint: (args) => (leavesRunning(args[2]) ? 'drop' : 'stop'),
  captureLayer: (args) => (leavesRunning(args[2]) ? undefined : 'stop'),
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
      const stops = typeof prop === 'string' ? STOPS[prop] : undefined;
      if (stops) {
        return (...args: unknown[]) => {
          const what = stops(args);
          if (what) conns.forget(args[0] as string, { stopped: what === 'stop' });
          return fn(...args);
        };
      }
      return fn;
    },
  });
}
