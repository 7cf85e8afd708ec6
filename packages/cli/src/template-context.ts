/**
 * The build context of a Dockerfile template: the files of a directory minus those `.dockerignore` excludes, as one
 * tar (made by the system `tar`, owners zeroed so the same files give the same tar and the same hash). Docker's
 * `.dockerignore` rules: one pattern a line, `#` comments, `*`, `?`, `[…]` and `**` globs, a pattern also excludes
 * everything below a matching directory, `!pattern` re-includes, and the last matching line wins.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

interface Rule {
  re: RegExp;
  negate: boolean;
}

/** Compiles `.dockerignore` text into rules. */
export function parseDockerignore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    line = path.posix.normalize(line.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (!line || line === '.') continue;
    rules.push({ re: globToRegExp(line), negate });
  }
  return rules;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // `**` matches any number of directories (including none).
      i++;
      if (glob[i + 1] === '/') {
        i++;
        re += '(?:.*/)?';
      } else re += '.*';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += `\\${glob[++i]}`;
    else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  // A pattern matches the path itself or any directory above it.
  return new RegExp(`^${re}(?:/.*)?$`);
}

/** Whether the rules exclude a path (relative, `/`-separated). */
export function isIgnored(rel: string, rules: Rule[]): boolean {
  let ignored = false;
  for (const r of rules) if (r.re.test(rel)) ignored = !r.negate;
  return ignored;
}

/**
 * Every path under `dir` that `.dockerignore` keeps, directories before their contents, sorted. `exclude` names
 * further paths to leave out (the CLI's own e2b.toml, which changes with every build).
 */
export async function contextFiles(dir: string, exclude: string[] = []): Promise<string[]> {
  let rules: Rule[] = [];
  try {
    rules = parseDockerignore(await readFile(path.join(dir, '.dockerignore'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const out: string[] = [];
  const walk = async (rel: string) => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (exclude.includes(p)) continue;
      // A directory .dockerignore excludes may still hold re-included files (`!dir/keep`), so it is walked anyway.
      const ignored = isIgnored(p, rules);
      if (e.isDirectory()) {
        const before = out.length;
        if (!ignored) out.push(p);
        await walk(p);
        if (ignored && out.length > before) out.splice(before, 0, p);
      } else if (!ignored) out.push(p);
    }
  };
  await walk('');
  return out;
}

/** A tar of the directory's context (see the module comment). */
export async function tarContext(dir: string, exclude: string[] = []): Promise<{ tar: Buffer; entries: number }> {
  const files = await contextFiles(dir, exclude);
  const tar = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn(
      'tar',
      [
        '-c',
        '-f',
        '-',
        '-C',
        dir,
        '--no-recursion',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '--null',
        '--verbatim-files-from',
        '-T',
        '-',
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const chunks: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('error', (e) => reject(new Error(`cannot run tar to pack the build context: ${e.message}`)));
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`tar failed packing ${dir}: ${err.trim()}`)),
    );
    child.stdin.end(files.map((f) => `${f}\0`).join(''));
  });
  return { tar, entries: files.length };
}
