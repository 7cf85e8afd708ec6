/**
 * The CLI's help texts, made from its command table: the overview (`tensor-box --help`), one noun's verbs
 * (`tensor-box sandbox --help`) and one command's usage with its flags (`tensor-box sandbox create --help`).
 */

/** What help needs to know of one command (main.ts's table entries have these fields). */
export interface HelpEntry {
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;
  summary: string;
  /** Positional arguments, e.g. `<id> -- <command...>`. */
  args?: string;
  aliases?: string[];
}

export interface HelpNoun {
  aliases: string[];
  verbs: Record<string, HelpEntry>;
}

const FOOTER = [
  'environment: TENSOR_BOX_DOMAIN, TENSOR_BOX_API_KEY',
  'exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 authentication, 5 timeout, 6 conflict, 7 resource exhausted',
];

function verbLines(noun: string, n: HelpNoun): string[] {
  const lines = Object.entries(n.verbs).map(([verb, c]) => {
    const name = `${noun} ${verb}${c.aliases ? ` (${c.aliases.join(', ')})` : ''}`;
    return `  ${name.padEnd(28)} ${c.summary}`;
  });
  lines.push(`  (alias of '${noun}': ${n.aliases.join(', ')})`);
  return lines;
}

/** `tensor-box --help`: every command. */
export function overview(nouns: Record<string, HelpNoun>): string {
  const lines = ['usage: tensor-box <command> [args] [--domain URL] [--api-key KEY] [--json]', '', 'commands:'];
  for (const [noun, n] of Object.entries(nouns)) lines.push(...verbLines(noun, n));
  lines.push('', 'help for one command: tensor-box <command> --help', '', ...FOOTER);
  return lines.join('\n');
}

/** `tensor-box sandbox --help`: one noun's commands. */
export function nounHelp(noun: string, n: HelpNoun): string {
  return [`usage: tensor-box ${noun} <command> [args] [flags]`, '', 'commands:', ...verbLines(noun, n)].join('\n');
}

function flagLine(name: string, o: HelpEntry['options'][string]): string {
  const value = o.type === 'string' ? ' <value>' : '';
  const short = o.short ? `-${o.short}, ` : '';
  return `  ${`${short}--${name}${value}`.padEnd(28)}${o.multiple ? ' (repeatable)' : ''}`.trimEnd();
}

/** `tensor-box sandbox create --help`: usage, summary, the command's flags and the global ones. */
export function commandHelp(noun: string, verb: string, c: HelpEntry, global: HelpEntry['options']): string {
  const lines = [`usage: tensor-box ${noun} ${verb}${c.args ? ` ${c.args}` : ''} [flags]`, '', c.summary];
  if (c.aliases?.length) lines.push(`aliases: ${c.aliases.map((a) => `${noun} ${a}`).join(', ')}`);
  const own = Object.entries(c.options);
  if (own.length) lines.push('', 'flags:', ...own.map(([k, o]) => flagLine(k, o)));
  lines.push('', 'global flags:', ...Object.entries(global).map(([k, o]) => flagLine(k, o)), '', ...FOOTER);
  return lines.join('\n');
}
