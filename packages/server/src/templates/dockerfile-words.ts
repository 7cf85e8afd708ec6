/**
 * The lexical layer of the Dockerfile parser: physical lines joined into instructions (parser directives, comments,
 * line continuations), quote-aware word splitting, Docker's word expansion (`$VAR`, `${VAR}`, `${VAR:-word}`,
 * `${VAR:+word}`, quotes and the escape character), JSON (exec) form, and POSIX shell quoting for turning exec-form
 * arguments back into one command line. Pure functions; errors are plain `Error`s the caller decorates with the line.
 */

/** One instruction as written: its keyword (upper-cased), the rest of the text and the 1-based line it starts on. */
export interface RawInstruction {
  keyword: string;
  rest: string;
  line: number;
}

/** Variables visible to expansion: a value, or `null` for one that is declared but unset (expands to ''). */
export interface Vars {
  has(name: string): boolean;
  get(name: string): string | null | undefined;
}

/**
 * Splits a Dockerfile into instructions. Parser directives (`# escape=`, `# syntax=`) are read from the top; a line
 * ending in the escape character continues on the next one (comment lines inside a continuation are dropped, as
 * Docker does).
 */
export function splitInstructions(text: string): { escape: string; instructions: RawInstruction[] } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escape = '\\';
  let i = 0;
  // Directives: only before any comment, blank line or instruction; each directive at most once.
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/.exec(lines[i]);
    if (!m) break;
    const name = m[1].toLowerCase();
    // An unknown or repeated directive is a comment, and a comment ends the directives.
    if (seen.has(name) || !['escape', 'syntax', 'check'].includes(name)) break;
    seen.add(name);
    if (name === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`')
        throw Object.assign(new Error(`invalid escape character '${m[2]}' (use \\ or \`)`), { line: i + 1 });
      escape = m[2];
    }
  }
  const cont = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const out: RawInstruction[] = [];
  let current: RawInstruction | undefined;
  for (; i < lines.length; i++) {
    const line = lines[i];
    const trimmed = line.trim();
    if (current) {
      if (trimmed.startsWith('#')) continue;
      if (!trimmed) continue;
    } else {
      if (!trimmed || trimmed.startsWith('#')) continue;
    }
    const continues = cont.test(line);
    const body = continues ? line.replace(cont, '') : line;
    if (current) current.rest += body;
    else {
      const m = /^\s*([A-Za-z]+)(?:\s+([\s\S]*))?$/.exec(body);
      if (!m) throw Object.assign(new Error(`cannot parse '${trimmed.slice(0, 60)}'`), { line: i + 1 });
      current = { keyword: m[1].toUpperCase(), rest: m[2] ?? '', line: i + 1 };
    }
    if (!continues) {
      current.rest = current.rest.trim();
      out.push(current);
      current = undefined;
    }
  }
  if (current) {
    current.rest = current.rest.trim();
    out.push(current);
  }
  return { escape, instructions: out };
}

/** Splits on unquoted whitespace, keeping quotes and escapes in the words (expansion removes them later). */
export function splitWords(text: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '' | "'" | '"' = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === escape && quote !== "'" && i + 1 < text.length) {
      word += c + text[++i];
      inWord = true;
    } else if (quote) {
      if (c === quote) quote = '';
      word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word += c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote === '"' ? 'double' : 'single'} quote`);
  if (inWord) words.push(word);
  return words;
}

/**
 * Docker's word expansion: removes quotes and escapes and substitutes variables. A variable that `vars` does not know
 * is left as written (it may come from the base template's environment, which the parser cannot see).
 */
export function expandWord(word: string, vars: Vars, escape: string): string {
  let out = '';
  let quote: '' | "'" | '"' = '';
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    if (quote === "'") {
      if (c === "'") quote = '';
      else out += c;
    } else if (c === escape && i + 1 < word.length) {
      const next = word[++i];
      // Inside double quotes the escape only escapes what would otherwise be special there.
      out += quote === '"' && !['"', '$', escape].includes(next) ? c + next : next;
    } else if (c === '"' || (c === "'" && !quote)) {
      quote = quote === c ? '' : (c as '"' | "'");
    } else if (c === '$') {
      const [text, end] = substitute(word, i, vars, escape);
      out += text;
      i = end - 1;
    } else out += c;
  }
  if (quote) throw new Error(`unterminated ${quote === '"' ? 'double' : 'single'} quote`);
  return out;
}

/** Expands the `$…` reference at `start`; returns the text and the index after the reference. */
function substitute(word: string, start: number, vars: Vars, escape: string): [string, number] {
  const simple = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(word.slice(start));
  if (simple) {
    const name = simple[1];
    const end = start + simple[0].length;
    if (!vars.has(name)) return [simple[0], end];
    return [vars.get(name) ?? '', end];
  }
  if (word[start + 1] !== '{') return ['$', start + 1];
  // ${…}: find the matching brace (nested ${} in the word are allowed).
  let depth = 0;
  let end = -1;
  for (let j = start + 1; j < word.length; j++) {
    if (word[j] === escape) j++;
    else if (word[j] === '{') depth++;
    else if (word[j] === '}' && --depth === 0) {
      end = j;
      break;
    }
  }
  if (end < 0) throw new Error(`missing '}' in '${word.slice(start)}'`);
  const inner = word.slice(start + 2, end);
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([\s\S]*))?$/.exec(inner);
  if (!m)
    throw new Error(
      `unsupported substitution '\${${inner}}' (supported: \${VAR}, \${VAR:-default}, \${VAR:+alternative})`,
    );
  const [, name, op, arg] = m;
  const literal = word.slice(start, end + 1);
  if (!vars.has(name)) return [literal, end + 1];
  const value = vars.get(name);
  const isSet = value !== null && value !== undefined;
  const nonEmpty = isSet && value !== '';
  if (!op) return [value ?? '', end + 1];
  const use = op === ':-' ? !nonEmpty : op === '-' ? !isSet : op === ':+' ? nonEmpty : isSet;
  if (op.endsWith('-')) return [use ? expandWord(arg, vars, escape) : (value ?? ''), end + 1];
  return [use ? expandWord(arg, vars, escape) : '', end + 1];
}

/**
 * The exec (JSON) form `["a", "b"]`, or undefined when the text is not a JSON array of strings (then it is shell form).
 */
export function parseJsonForm(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(text);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    /* shell form, as Docker falls back to */
  }
  return undefined;
}

/** Quotes one argument for a POSIX shell (only when needed). */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_\-+=/.,:@%^]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Exec-form arguments as one shell command line. */
export function shellJoin(args: string[]): string {
  return args.map(shellQuote).join(' ');
}

/**
 * Leading `--flag=value` / `--flag` options of FROM, RUN, COPY, ADD; the remaining text follows. A flag value may be
 * quoted.
 */
export function takeFlags(text: string): { flags: { name: string; value?: string }[]; rest: string } {
  const flags: { name: string; value?: string }[] = [];
  let rest = text;
  for (;;) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=("[^"]*"|'[^']*'|\S*))?(?:\s+|$)/.exec(rest);
    if (!m) break;
    const v = m[2];
    flags.push({
      name: m[1].toLowerCase(),
      value: v === undefined ? undefined : v.replace(/^(["'])([\s\S]*)\1$/, '$2'),
    });
    rest = rest.slice(m[0].length);
  }
  return { flags, rest: rest.trim() };
}
