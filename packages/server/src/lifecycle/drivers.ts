/**
 * The drivers one server runs sandboxes with, by isolation: `container` always, `microvm` when this host has QEMU and
 * the guest kernel (otherwise what is missing is kept, to say so). Lifecycle modules ask here for the driver of a
 * record — a sandbox, a snapshot or a template names its isolation — and never name a driver themselves; the server
 * and the runtime still meet only at the Driver interface.
 *
 * Which isolation a new sandbox gets (`choose`): the create request's, else its template's, else the server's default
 * (TENSOR_BOX_ISOLATION, `container`). A sandbox started from a checkpoint (snapshot, fork, pause image, warm image)
 * keeps the isolation that wrote it: one driver cannot read another's checkpoint.
 */
import type { Driver } from '@tensor-box/runtime';
import { ApiError, invalid } from '../errors.js';
import type { Isolation } from '../store/store.js';

export const ISOLATIONS: readonly Isolation[] = ['container', 'microvm'];

/** A record's isolation; records from before isolation was recorded are containers. */
export const isolationOf = (r: { isolation?: Isolation }): Isolation => r.isolation ?? 'container';

export class Drivers {
  /**
   * @param drivers the drivers this host can run, by isolation
   * @param defaultIsolation the server's default (must be one of `drivers`)
   * @param missing for an isolation this host cannot run, what it lacks (e.g. `qemu-system-x86_64 (Debian package
   *   qemu-system-x86)`)
   */
  constructor(
    private readonly drivers: Partial<Record<Isolation, Driver>>,
    readonly defaultIsolation: Isolation,
    private readonly missing: Partial<Record<Isolation, string>> = {},
  ) {
    if (!drivers[defaultIsolation]) throw new Error(`no driver for the default isolation '${defaultIsolation}'`);
  }

  /** Whether `v` names an isolation (any, also one this host cannot run). */
  static isIsolation(v: unknown): v is Isolation {
    return typeof v === 'string' && (ISOLATIONS as readonly string[]).includes(v);
  }

  /** Checks a requested isolation: 400 when it is no isolation, or names one this host cannot run (and why). */
  check(v: unknown, what = 'isolation'): Isolation {
    if (!Drivers.isIsolation(v)) throw invalid(`${what} must be one of ${ISOLATIONS.join(', ')}, not '${String(v)}'`);
    if (!this.drivers[v]) {
      const why = this.missing[v] ?? 'this server does not run it';
      throw invalid(`${what} '${v}' is not available on this server: it needs ${why}`);
    }
    return v;
  }

  /** The isolation of a new sandbox: the request's, else the template's, else the server's default; checked. */
  choose(requested: unknown, template?: Isolation): Isolation {
    if (requested !== undefined && requested !== null) return this.check(requested);
    if (template) return this.check(template, `the template's isolation`);
    return this.defaultIsolation;
  }

  /**
   * The driver of a record's sandbox, snapshot or image. A record whose driver this server lacks (it ran with QEMU
   * before) cannot be acted on here: failed_precondition, naming what is missing.
   */
  of(r: { isolation?: Isolation }): Driver {
    const isolation = isolationOf(r);
    const d = this.drivers[isolation];
    if (!d) {
      const why = this.missing[isolation] ?? 'its driver';
      throw new ApiError('failed_precondition', `this server cannot run ${isolation} sandboxes: it needs ${why}`);
    }
    return d;
  }

  /** Every driver this server runs, with its isolation (reconcile lists each; image checks ask each). */
  all(): Array<[Isolation, Driver]> {
    return ISOLATIONS.flatMap((i) => (this.drivers[i] ? [[i, this.drivers[i]] as [Isolation, Driver]] : []));
  }

  /** The isolations this server can run (the default first). */
  available(): Isolation[] {
    return [
      this.defaultIsolation,
      ...this.all()
        .map(([i]) => i)
        .filter((i) => i !== this.defaultIsolation),
    ];
  }

  /**
   * Every driver's sandboxes as one runtime (list all, destroy through the driver that listed the sandbox): for code
   * that only needs to find and drop local sandboxes (a node declared dead, cluster/lost.ts).
   */
  asOne(): { list(): Promise<Array<{ sandboxId: string }>>; destroy(id: string): Promise<void> } {
    const owner = new Map<string, Driver>();
    return {
      list: async () => {
        const lists = await Promise.all(this.all().map(async ([, d]) => ({ d, l: await d.list() })));
        for (const { d, l } of lists) for (const s of l) owner.set(s.sandboxId, d);
        return lists.flatMap(({ l }) => l);
      },
      destroy: async (id) => {
        const d = owner.get(id);
        if (d) return d.destroy(id);
        for (const [, each] of this.all()) await each.destroy(id).catch(() => {});
      },
    };
  }
}
