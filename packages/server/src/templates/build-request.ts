/**
 * A build request as the build runner needs it: exactly one source, and steps in E2B's typed form (RUN, COPY, ENV,
 * WORKDIR, USER) whatever shape they came in (the seeds' `{name, command}` is a RUN step). Every check that can fail
 * before the build starts is here, so a bad request is a 400 and never a half-started build.
 */
import type { components } from '../api/schema.gen.js';
import { invalid } from '../errors.js';

type StartRequest = components['schemas']['TemplateBuildStartRequest'];
type ApiStep = components['schemas']['TemplateStep'];

export type StepType = 'RUN' | 'COPY' | 'ENV' | 'WORKDIR' | 'USER';

export interface BuildStep {
  type: StepType;
  args: string[];
  /** Shown in the log and in a failed build's reason. */
  name: string;
  filesHash?: string;
}

/** Where a build starts: a template, an image, or either (a Dockerfile's FROM: templates first). */
export type BuildSource = { kind: 'template' | 'image' | 'template-or-image'; ref: string };

export interface BuildPlan {
  source: BuildSource;
  steps: BuildStep[];
  startCmd?: string;
  readyCmd?: string;
}

const MAX_STEPS = 500;
const HASH = /^[A-Za-z0-9_-]{8,128}$/;

function summary(type: StepType, args: string[]): string {
  const text =
    type === 'ENV' ? args.filter((_, i) => i % 2 === 0).join(' ') : args.slice(0, type === 'COPY' ? 2 : 1).join(' ');
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine;
}

/** One step in the typed form; `where` names it in errors (e.g. `steps[2]`). */
export function normalizeStep(s: ApiStep, where: string): BuildStep {
  let type = s.type as StepType | undefined;
  let args = s.args;
  if (!type && typeof s.command === 'string') {
    type = 'RUN';
    args = [s.command];
  }
  if (!type) throw invalid(`${where}: give a type (RUN, COPY, ENV, WORKDIR, USER) with args, or a command`);
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
    throw invalid(`${where}: args must be a list of strings`);
  switch (type) {
    case 'RUN':
      if (!args[0]?.trim()) throw invalid(`${where}: RUN needs a command`);
      break;
    case 'COPY':
      if (!args[0] || !args[1]) throw invalid(`${where}: COPY needs a source and a destination`);
      if (!s.filesHash || !HASH.test(s.filesHash))
        throw invalid(`${where}: COPY needs the filesHash of its uploaded files`);
      if (args[3] && !/^[0-7]{3,4}$/.test(args[3]))
        throw invalid(`${where}: COPY mode '${args[3]}' is not an octal mode`);
      break;
    case 'ENV':
      if (args.length < 2 || args.length % 2 !== 0) throw invalid(`${where}: ENV needs key/value pairs`);
      for (let i = 0; i < args.length; i += 2) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(args[i]))
          throw invalid(`${where}: '${args[i]}' is not a valid environment variable name`);
      }
      break;
    case 'WORKDIR':
      if (!args[0]?.startsWith('/')) throw invalid(`${where}: WORKDIR needs an absolute path`);
      break;
    case 'USER':
      if (!/^[a-z_][a-z0-9_-]*[$]?$/i.test(args[0] ?? '') && !/^\d+$/.test(args[0] ?? ''))
        throw invalid(`${where}: USER needs a user name`);
      break;
    default:
      throw invalid(`${where}: unknown step type '${type}' (RUN, COPY, ENV, WORKDIR, USER)`);
  }
  return {
    type,
    args,
    name: s.name?.trim() || `${type} ${summary(type, args)}`,
    ...(s.filesHash ? { filesHash: s.filesHash } : {}),
  };
}

/**
 * Validates a start-build body. `parseDockerfile` turns a Dockerfile into its FROM and steps (it throws the
 * line-numbered errors).
 */
export function buildPlan(
  req: StartRequest,
  parseDockerfile: (
    text: string,
    opts: { contextHash?: string },
  ) => { from: string; steps: ApiStep[]; startCmd?: string },
): BuildPlan {
  const sources = (['fromTemplate', 'fromImage', 'dockerfile'] as const).filter((k) => req[k] !== undefined);
  if (sources.length !== 1) {
    throw invalid(
      `give exactly one of fromTemplate, fromImage or dockerfile${
        sources.length ? ` (got ${sources.join(', ')})` : ''
      }`,
    );
  }
  if ((req as { fromImageRegistry?: unknown }).fromImageRegistry !== undefined) {
    throw invalid(
      'fromImageRegistry is not supported: configure the registry on the server (TENSOR_BOX_REGISTRY_URL) and use ' +
        'fromImage',
    );
  }
  if (req.filesHash !== undefined && !HASH.test(req.filesHash))
    throw invalid(`filesHash '${req.filesHash}' is not a valid hash`);
  let source: BuildSource;
  let fileSteps: ApiStep[] = [];
  let startCmd = req.startCmd;
  if (req.dockerfile !== undefined) {
    const df = parseDockerfile(req.dockerfile, { contextHash: req.filesHash });
    fileSteps = df.steps;
    startCmd ??= df.startCmd;
    source = { kind: 'template-or-image', ref: df.from };
  } else if (req.fromTemplate !== undefined) {
    source = { kind: 'template', ref: req.fromTemplate };
  } else {
    source = { kind: 'image', ref: req.fromImage! };
  }
  const all = [...fileSteps, ...(req.steps ?? [])];
  if (all.length > MAX_STEPS) throw invalid(`a build has at most ${MAX_STEPS} steps (got ${all.length})`);
  const steps = all.map((s, i) =>
    normalizeStep(s, i < fileSteps.length ? `Dockerfile step ${i + 1}` : `steps[${i - fileSteps.length}]`),
  );
  if (req.readyCmd !== undefined && !startCmd)
    throw invalid('readyCmd needs a startCmd (it tells when the start command is ready)');
  return { source, steps, startCmd: startCmd || undefined, readyCmd: req.readyCmd || undefined };
}
