/**
 * The CLI's command table and dispatcher: `tensor-box <noun> <verb> [args] [flags]`, nouns with short aliases.
 * Data goes to stdout, messages to stderr; user errors print without a stack trace; the exit code tells the error kind.
 */
import { parseArgs } from 'node:util';
import { makeCtx } from './context.js';
import { exitCodeFor, EXIT, UsageError } from './exit-codes.js';
import { commandHelp, nounHelp, overview } from './help.js';
import * as sandboxCreate from './commands/sandbox-create.js';
import * as sandboxList from './commands/sandbox-list.js';
import * as sandboxConnect from './commands/sandbox-connect.js';
import * as sandboxKill from './commands/sandbox-kill.js';
import * as sandboxExec from './commands/sandbox-exec.js';
import { pause as sandboxPause, resume as sandboxResume } from './commands/sandbox-pause.js';
import { snapshot as sandboxSnapshot, fork as sandboxFork, list as snapshotList } from './commands/snapshot.js';
import { logs as sandboxLogs, metrics as sandboxMetrics } from './commands/observe.js';
import * as sandboxTerminal from './commands/sandbox-terminal.js';
import * as templateInit from './commands/template-init.js';
import * as templateBuild from './commands/template-build.js';
import * as team from './commands/team.js';
import * as node from './commands/node.js';
import * as key from './commands/key.js';
import * as volume from './commands/volume.js';
import {
  list as templateList,
  get as templateGet,
  baseImages as templateBaseImages,
  del as templateDelete,
} from './commands/template.js';

interface Command {
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  run(ctx: ReturnType<typeof makeCtx>, args: string[], flags: Record<string, any>): Promise<number>;
  summary: string;
  /** Positional arguments for the command's help, e.g. `<id> -- <command...>`. */
  args?: string;
}

const GLOBAL = {
  domain: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const NOUNS: Record<string, { aliases: string[]; verbs: Record<string, Command & { aliases?: string[] }> }> = {
  sandbox: {
    aliases: ['sbx', 'sandboxes'],
    verbs: {
      create: {
        ...sandboxCreate,
        args: '[template]',
        summary: 'create a sandbox from a template (default: default); --on-timeout pause [--filesystem-only]',
      },
      list: {
        ...sandboxList,
        aliases: ['ls'],
        summary: 'list sandboxes (--state, --metadata, --template, --started-after, --order, --limit)',
      },
      connect: {
        ...sandboxConnect,
        args: '<id>',
        aliases: ['info'],
        summary: 'connect to a sandbox (resumes a paused one) and show its info (--no-resume: leave it paused)',
      },
      pause: {
        ...sandboxPause,
        args: '<id...>',
        summary: 'pause sandboxes, keeping memory, processes and files (--filesystem-only: only the files)',
      },
      resume: {
        ...sandboxResume,
        args: '<id>',
        summary: 'resume a paused sandbox (--timeout-ms restarts its timeout; --reboot: afresh on its files)',
      },
      snapshot: {
        ...sandboxSnapshot,
        args: '<id>',
        summary: 'snapshot a running sandbox (--name); prints the snapshot ID',
      },
      fork: { ...sandboxFork, args: '<id>', summary: 'live copies of a running sandbox (--count); prints their IDs' },
      terminal: {
        ...sandboxTerminal,
        args: '<id>',
        aliases: ['term'],
        summary: 'an interactive terminal in the sandbox (--shell, --user); exits with its status',
      },
      logs: {
        ...sandboxLogs,
        args: '<id>',
        summary: 'lifecycle events and agent messages (--follow, --level, --search)',
      },
      metrics: { ...sandboxMetrics, args: '<id>', summary: 'CPU, memory and disk samples (--follow)' },
      kill: { ...sandboxKill, args: '<id...>', summary: 'kill one or more sandboxes' },
      exec: {
        ...sandboxExec,
        args: '<id> -- <command...>',
        summary: 'run a command in a sandbox: exec <id> -- <cmd...>',
      },
    },
  },
  snapshot: {
    aliases: ['snapshots', 'snap'],
    verbs: {
      list: { ...snapshotList, aliases: ['ls'], summary: 'list snapshots (--sandbox-id, --name)' },
    },
  },
  template: {
    aliases: ['templates', 'tpl'],
    verbs: {
      init: {
        ...templateInit,
        summary: 'write an e2b.toml (--name, --from-template/--from-image/--dockerfile, --cpu, --memory)',
      },
      build: {
        ...templateBuild,
        summary: 'build the template e2b.toml describes, following its log (--config, --path, --no-wait)',
      },
      list: { ...templateList, aliases: ['ls'], summary: 'list templates' },
      get: { ...templateGet, args: '<id>', aliases: ['info'], summary: 'show a template and its builds' },
      'base-images': {
        ...templateBaseImages,
        aliases: ['bases'],
        summary: 'images templates can be built from (--from-image values)',
      },
      delete: {
        ...templateDelete,
        args: '<id...>',
        aliases: ['rm'],
        summary: 'delete templates (--yes skips the prompt)',
      },
    },
  },
  team: {
    aliases: ['teams'],
    verbs: {
      create: { ...team.create, summary: 'create a team (admin key); prints its ID' },
      list: { ...team.list, aliases: ['ls'], summary: 'list teams (admin key)' },
      get: { ...team.get, aliases: ['info'], summary: "a team's quotas and usage" },
      quota: {
        ...team.quota,
        summary: 'set quotas (--max-running-sandboxes, --max-vcpus, --max-memory-mb, --max-disk-mb, --max-templates)',
      },
      delete: { ...team.del, aliases: ['rm'], summary: 'delete a team and its keys (none of its sandboxes may run)' },
    },
  },
  node: {
    aliases: ['nodes'],
    verbs: {
      list: { ...node.list, aliases: ['ls'], summary: "the cluster's nodes: state, capacity, heartbeat (admin key)" },
      drain: { ...node.drain, summary: 'drain a node: no new sandboxes, its running ones move away (admin key)' },
    },
  },
  volume: {
    aliases: ['volumes', 'vol'],
    verbs: {
      create: { ...volume.create, args: '<name>', summary: 'create a volume (--size-mb); prints its ID' },
      list: { ...volume.list, aliases: ['ls'], summary: "list the team's volumes" },
      get: { ...volume.get, args: '<id|name>', aliases: ['info'], summary: 'show a volume' },
      delete: {
        ...volume.del,
        args: '<id|name...>',
        aliases: ['rm'],
        summary: 'delete volumes and their files (refused while a sandbox mounts one)',
      },
    },
  },
  key: {
    aliases: ['keys', 'api-key'],
    verbs: {
      create: { ...key.create, summary: 'create an API key (--team, --name); prints it once' },
      list: { ...key.list, aliases: ['ls'], summary: "list a team's keys, masked (--team)" },
      revoke: { ...key.revoke, aliases: ['rm', 'delete'], summary: 'revoke keys at once (--team)' },
    },
  },
};

function findNoun(nounName?: string) {
  return Object.entries(NOUNS).find(([k, n]) => k === nounName || n.aliases.includes(nounName ?? ''));
}

function findVerb(noun: (typeof NOUNS)[string], verbName?: string) {
  return Object.entries(noun.verbs).find(([k, c]) => k === verbName || c.aliases?.includes(verbName ?? ''));
}

const isHelp = (arg?: string) => arg === '--help' || arg === '-h' || arg === 'help';

export async function main(argv: string[]): Promise<number> {
  const [nounName, verbName, ...rest] = argv;
  if (!nounName || isHelp(nounName)) {
    process.stdout.write(overview(NOUNS) + '\n');
    return nounName ? EXIT.ok : EXIT.usage;
  }
  const noun = findNoun(nounName);
  if (noun && (!verbName || isHelp(verbName))) {
    process.stdout.write(nounHelp(noun[0], noun[1]) + '\n');
    return verbName ? EXIT.ok : EXIT.usage;
  }
  const verb = noun && findVerb(noun[1], verbName);
  if (!noun || !verb) {
    const unknown = [nounName, verbName].filter(Boolean).join(' ');
    process.stderr.write(`tensor-box: unknown command '${unknown}'\n\n${overview(NOUNS)}\n`);
    return EXIT.usage;
  }
  const cmd = verb[1];
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...GLOBAL, ...cmd.options },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      process.stdout.write(commandHelp(noun[0], verb[0], cmd, GLOBAL) + '\n');
      return EXIT.ok;
    }
    return await cmd.run(makeCtx(values as any), positionals, values);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const usage = err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(`tensor-box: ${(err as Error).message}\n`);
    return usage ? EXIT.usage : exitCodeFor(err);
  }
}
