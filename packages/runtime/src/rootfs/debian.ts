/**
 * Debian root filesystems for templates, built with mmdebstrap from the Debian mirror the host's apt already uses.
 *
 * A finished rootfs is kept in the cache (`<cacheDir>/rootfs/<recipe hash>`), and later builds of the same recipe are
 * hard-linked copies of it (a second data dir, a test server, a rebuilt template: about a second instead of half a
 * minute). Layers are read-only lowers of overlayfs, so sharing inodes between them is safe.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { linkTreeArgs } from './link-tree.js';

export interface DebianRecipe {
  suite?: string;
  /** Packages on top of the minbase variant. */
  packages: string[];
  /** Shell commands run inside the new rootfs (chroot), in order. */
  customize: string[];
}

export interface BuildDebianOptions extends DebianRecipe {
  dest: string;
  cacheDir: string;
  mirror?: string;
  onProgress?: (fraction: number, message: string) => void;
  /** Bypass the cache (the result still refreshes it). */
  noCache?: boolean;
}

/** What E2B's base template offers: Debian bookworm, a `user` with passwordless sudo and a home at /home/user. */
export const DEFAULT_TEMPLATE_RECIPE: Required<Pick<DebianRecipe, 'packages' | 'customize'>> & { suite: string } = {
  suite: 'bookworm',
  // As E2B's base image: `python` is python3 (python-is-python3) and `pip` installs packages (python3-pip; Debian's
  // "externally managed" guard is off, as a sandbox is the environment the packages are for).
  packages: [
    'bash',
    'coreutils',
    'python3',
    'python-is-python3',
    'python3-pip',
    'python3-venv',
    'curl',
    'git',
    'ca-certificates',
    'procps',
    'iproute2',
    'sudo',
    'less',
    'nano',
  ],
  customize: [
    "printf '[global]\\nbreak-system-packages = true\\n' > /etc/pip.conf",
    'useradd --create-home --uid 1000 --shell /bin/bash --user-group user',
    "echo 'user ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/user && chmod 0440 /etc/sudoers.d/user",
    'passwd -d user >/dev/null',
    // No services run inside; sudo must not try to resolve the hostname through a network.
    "printf 'Defaults !fqdn\\n' > /etc/sudoers.d/00-tensor-box && chmod 0440 /etc/sudoers.d/00-tensor-box",
    'rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin',
  ],
};

/** The mirror apt on this host uses (deb822 sources or sources.list), falling back to deb.debian.org. */
export function hostDebianMirror(): string {
  const candidates: string[] = [];
  try {
    for (const f of readdirSync('/etc/apt/sources.list.d')) {
      if (f.endsWith('.sources')) candidates.push(path.join('/etc/apt/sources.list.d', f));
    }
  } catch {
    /* no dir */
  }
  for (const f of candidates) {
    for (const block of readFileSync(f, 'utf8').split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(block)?.[1];
      if (uri && !/security/.test(uri) && /^Suites:.*\b(bookworm|stable|trixie)\b/m.test(block)) return uri;
    }
  }
  try {
    for (const line of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m && !/security/.test(m[1]!)) return m[1]!;
    }
  } catch {
    /* none */
  }
  return 'http://deb.debian.org/debian';
}

export function recipeHash(r: DebianRecipe): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({ v: 1, suite: r.suite ?? 'bookworm', packages: [...r.packages].sort(), customize: r.customize }),
  );
  return h.digest('hex').slice(0, 16);
}

/** Phases of an mmdebstrap run as it reports them on stderr, with the share of the build each one ends at. */
const PHASES: Array<[RegExp, number, string]> = [
  [/^I: chroot architecture/, 0.03, 'preparing'],
  [/^I: downloading packages/, 0.08, 'downloading packages'],
  [/^I: extracting archives/, 0.3, 'extracting packages'],
  [/^I: installing essential packages/, 0.4, 'installing essential packages'],
  [/^I: installing remaining packages/, 0.6, 'installing packages'],
  [/^I: running --customize-hook/, 0.9, 'configuring'],
  [/^I: cleaning package lists/, 0.95, 'cleaning up'],
  [/^I: success/, 0.97, 'finishing'],
];

function run(cmd: string, args: string[], onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const feed = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (!line) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        onLine(line);
      }
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.on('error', (err) =>
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`${cmd} is not installed (npm run setup installs it)`)
          : err,
      ),
    );
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} failed (${code}):\n${tail.join('\n')}`)),
    );
  });
}

/** Builds (or copies from the cache) a Debian rootfs into `dest`, which must not exist yet. */
export async function buildDebianRootfs(o: BuildDebianOptions): Promise<void> {
  const progress = o.onProgress ?? (() => {});
  const hash = recipeHash(o);
  const cached = path.join(o.cacheDir, 'rootfs', hash);
  const complete = path.join(cached, '.tensor-box-complete');
  await mkdir(path.dirname(o.dest), { recursive: true });

  if (!o.noCache && existsSync(complete)) {
    progress(0.5, 'copying cached root filesystem');
    await run('cp', linkTreeArgs(cached, o.dest), () => {});
    await rm(path.join(o.dest, '.tensor-box-complete'), { force: true });
    progress(1, 'done');
    return;
  }

  const staging = `${cached}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(path.dirname(cached), { recursive: true });
  await rm(staging, { recursive: true, force: true });
  const suite = o.suite ?? 'bookworm';
  const args = [
    '--variant=minbase',
    '--verbose',
    `--include=${o.packages.join(',')}`,
    ...o.customize.map((c) => `--customize-hook=chroot "$1" sh -euc ${shellQuote(c)}`),
    suite,
    staging,
    o.mirror ?? hostDebianMirror(),
  ];
  progress(0, `building Debian ${suite} root filesystem with mmdebstrap`);
  let reached = 0;
  try {
    await run('mmdebstrap', args, (line) => {
      for (const [re, frac, msg] of PHASES) {
        if (frac > reached && re.test(line)) {
          reached = frac;
          progress(frac, msg);
        }
      }
      // Package-level steps move the bar a little within a phase.
      if (/^(Unpacking|Setting up) /.test(line) && reached >= 0.3 && reached < 0.9) {
        reached = Math.min(reached + 0.004, 0.89);
        progress(reached, line.slice(0, 60));
      }
    });
    await writeFile(path.join(staging, '.tensor-box-complete'), `${new Date().toISOString()}\n`);
    await rm(cached, { recursive: true, force: true });
    await rename(staging, cached);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  progress(0.98, 'linking into the template');
  await run('cp', linkTreeArgs(cached, o.dest), () => {});
  await rm(path.join(o.dest, '.tensor-box-complete'), { force: true });
  progress(1, 'done');
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
