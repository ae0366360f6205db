// Argument parsing: the engine's flags, the project's flags (declared by the project), positionals.
// Hand-written (no dependency) so start-up stays fast and messages can suggest the closest flag.

import { suggest } from '../engine/index.ts';
import { CliError } from '../errors.ts';

/** A flag the project declares (tasks/config/options.ts): `--workers N`. */
export type ProjectFlag = {
  name: string;
  /** Placeholder of its value (`N`, `FILE`); absent for a boolean flag. */
  value?: string;
  description: string;
};

/** The flags every project gets. */
export type EngineFlags = {
  help: boolean;
  dryRun: boolean;
  explain: boolean;
  graph: boolean;
  force: boolean;
  keepGoing: boolean;
  yes: boolean;
  verbose: boolean;
  plain: boolean;
  jobs: number | undefined;
};

export type ParsedArgs = {
  flags: EngineFlags;
  /** Project flag values by name (boolean flags: "true"). */
  project: Record<string, string>;
  positionals: string[];
};

type FlagSpec = { names: string[]; key: keyof EngineFlags; value?: string; description: string };

/** The engine flags, in the order --help lists them. */
export const ENGINE_FLAGS: FlagSpec[] = [
  { names: ['-n', '--dry-run'], key: 'dryRun', description: 'say what would run and why; run nothing' },
  { names: ['--explain'], key: 'explain', description: 'print why each target that runs is run (which input changed, from → to)' },
  { names: ['-f', '--force'], key: 'force', description: 'rebuild the named targets (alias/group: members that are not precious) even if up to date' },
  { names: ['-k', '--keep-going'], key: 'keepGoing', description: 'after a failure, keep building everything that does not depend on it' },
  { names: ['-j', '--jobs'], key: 'jobs', value: 'N', description: 'run at most N targets at once (default: number of cores)' },
  { names: ['--graph'], key: 'graph', description: 'print the targets\' graph as Graphviz DOT (coloured by state); build nothing' },
  { names: ['-y', '--yes'], key: 'yes', description: 'confirm cleaning a precious target (the CA)' },
  { names: ['-v', '--verbose'], key: 'verbose', description: 'show up-to-date targets and stack traces of errors' },
  { names: ['--plain'], key: 'plain', description: 'plain progress lines even on a terminal' },
  { names: ['-h', '--help'], key: 'help', description: 'list targets, commands and flags' },
];

/**
 * `passthrough`: command names whose arguments are their own: when the first positional is one of them,
 * it and everything after it are positionals, unparsed (`kubectl get pods -n x`).
 */
export function parseArgs(argv: readonly string[], projectFlags: readonly ProjectFlag[] = [], passthrough: ReadonlySet<string> = new Set()): ParsedArgs {
  const flags: EngineFlags = { help: false, dryRun: false, explain: false, graph: false, force: false, keepGoing: false, yes: false, verbose: false, plain: false, jobs: undefined };
  const project: Record<string, string> = {};
  const positionals: string[] = [];
  const byName = new Map<string, FlagSpec>();
  for (const spec of ENGINE_FLAGS) for (const name of spec.names) byName.set(name, spec);
  const projectByName = new Map(projectFlags.map((f) => [`--${f.name}`, f]));
  const known = [...byName.keys(), ...projectByName.keys()];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (!positionals.length && passthrough.has(arg)) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(arg);
      continue;
    }
    let name = arg;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq !== -1) {
      name = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    } else if (/^-j-?\d+$/.test(arg)) {
      name = '-j';
      inline = arg.slice(2);
    }
    const takeValue = (placeholder: string): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      // `-j -1` is a value (a negative number, to be refused as one), not a missing value: no flag starts with a digit.
      if (next === undefined || (next.startsWith('-') && next !== '-' && !/^-\d/.test(next))) throw new CliError('bad-flag', `${name} needs a value (${name} ${placeholder})`);
      i++;
      return next;
    };
    const spec = byName.get(name);
    if (spec) {
      if (spec.value) {
        const text = takeValue(spec.value);
        const n = Number(text);
        if (!/^\d+$/.test(text) || n < 1) throw new CliError('bad-flag', `${name} wants a whole number ≥ 1, got "${text}"`);
        flags.jobs = n;
      } else {
        if (inline !== undefined) throw new CliError('bad-flag', `${name} takes no value`);
        (flags[spec.key] as boolean) = true;
      }
      continue;
    }
    const projectFlag = projectByName.get(name);
    if (projectFlag) {
      if (projectFlag.value) project[projectFlag.name] = takeValue(projectFlag.value);
      else {
        if (inline !== undefined) throw new CliError('bad-flag', `${name} takes no value`);
        project[projectFlag.name] = 'true';
      }
      continue;
    }
    const close = suggest(name, known);
    throw new CliError('bad-flag', `unknown flag ${name}`, close.length ? `did you mean ${close.join(', ')}?` : 'run with --help to list the flags');
  }
  return { flags, project, positionals };
}
