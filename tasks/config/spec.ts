// The cluster spec that lasts: defaults ← harder.config.ts (or --config FILE) ← flags recorded in output/spec.json ← this run's flags; records what flags change, and says where each field came from (`tasks.ts spec`).

import { existsSync, readFileSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProjectCommand, ProjectFlag, RecordContext } from '../../lib/cli/index.ts';
import { CliError, ConfigError, OptionError } from '../../lib/errors.ts';
import { controlPlanes, defaultConfig, workers, type ClusterConfig, type ConfigProblem } from './config.ts';
import { configFromFlags, projectFlags, readConfigFile, specFields } from './options.ts';

/** The spec file at the project root, loaded when present (never shipped: harder.config.example.ts is the example). */
export const SPEC_FILE = 'harder.config.ts';
/** Where the flags runs recorded live, under the state directory. */
export const RECORD_FILE = 'spec.json';
const RECORD_FORMAT = 1;

/** The flags that change the spec (and are recorded); --config and --reset are not. */
export const RECORDABLE = ['control-planes', 'workers', 'binaries'] as const;
type Recordable = (typeof RECORDABLE)[number];

/** The project's flags: those of tasks/config/options.ts and --reset. */
export const specFlags: ProjectFlag[] = [
  ...projectFlags.map((f) => (f.name === 'config' ? { ...f, description: `spec file (.ts or .json) to use instead of ${SPEC_FILE}, relative to the current directory` } : f)),
  { name: 'reset', description: `forget the flags earlier runs recorded in output/${RECORD_FILE} (npx tsx tasks.ts spec --reset)` },
];

/** What a recordable flag changes, as the spec and `tasks.ts spec` name it. */
const FIELD: Record<Recordable, { label: string; of(config: ClusterConfig): string | number; fileSets(values: Partial<ClusterConfig>): boolean }> = {
  'control-planes': { label: 'control planes', of: (c) => controlPlanes(c).length, fileSets: (v) => v.nodes !== undefined },
  workers: { label: 'workers', of: (c) => workers(c).length, fileSets: (v) => v.nodes !== undefined },
  binaries: { label: 'binarySource', of: (c) => c.binarySource, fileSets: (v) => v.binarySource !== undefined },
};

const isPlainObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Array.isArray(value);
const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`);

/** A spec file's message: the file's own path, the error's first useful line (esbuild's "Transform failed" heading dropped). */
function loadFailure(error: unknown, path: string, shownAs: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l && !/^Transform failed with \d+ errors?:?$/.test(l));
  return (lines.slice(0, 2).join('; ') || String(error)).split(path).join(shownAs);
}

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);

/**
 * Reads a spec file: a .ts/.js module whose default export is a spec object (defineCluster({...})), or
 * any other file as JSON. A file that cannot be found, loaded (a syntax error, a throw) or that exports
 * no object is one OptionError naming it; field problems are returned, every one.
 */
export async function loadSpecFile(path: string, shownAs: string, viaFlag: boolean): Promise<{ values: Partial<ClusterConfig>; problems: ConfigProblem[] }> {
  if (!TS_EXTENSIONS.has(extname(path))) return readConfigFile(path, shownAs);
  const hint = `the file holds \`export default defineCluster({ ... })\` (tasks/config/define.ts); \`npx tsx ${shownAs}\` shows the whole error`;
  const label = viaFlag ? `--config ${shownAs}` : shownAs;
  if (!existsSync(path)) throw new OptionError(`${label}: no such file (looked for ${path})`, 'a relative --config path is relative to the current directory');
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new OptionError(`${label}: cannot be loaded: ${loadFailure(error, path, shownAs)}`, hint);
  }
  if (!isPlainObject(module.default)) throw new OptionError(`${label}: its default export is ${module.default === undefined ? 'missing' : kindOf(module.default)}, not a spec object`, hint);
  return specFields(module.default);
}

/** What output/spec.json holds: the flags runs recorded (as given, normalised) and the spec the last run used. */
type Record_ = { format: number; flags: Partial<Record<Recordable, string | number>>; spec?: ClusterConfig };

function readRecord(path: string, shownAs: string): { record?: Record_; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { problems: [] };
    return { problems: [`${shownAs}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); remove it or run npx tsx tasks.ts spec --reset`] };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { problems: [`${shownAs}: not valid JSON (${(error as Error).message}); it is written by the CLI: forget it with npx tsx tasks.ts spec --reset`] };
  }
  if (!isPlainObject(data) || data.format !== RECORD_FORMAT || !isPlainObject(data.flags)) {
    return { problems: [`${shownAs}: is not a spec record of format ${RECORD_FORMAT}; forget it with npx tsx tasks.ts spec --reset`] };
  }
  const problems: string[] = [];
  const flags: Record_['flags'] = {};
  for (const [name, value] of Object.entries(data.flags)) {
    if (!(RECORDABLE as readonly string[]).includes(name)) problems.push(`${shownAs}: flags.${name}: is not a recordable flag; the recorded flags are ${RECORDABLE.join(', ')} (forget them with npx tsx tasks.ts spec --reset)`);
    else if (typeof value !== 'string' && typeof value !== 'number') problems.push(`${shownAs}: flags.${name}: is ${kindOf(value)}; a recorded flag is a number or a string (forget it with npx tsx tasks.ts spec --reset)`);
    else flags[name as Recordable] = value;
  }
  return { record: { format: RECORD_FORMAT, flags, ...(isPlainObject(data.spec) ? { spec: data.spec as ClusterConfig } : {}) }, problems };
}

/** Where one field's value came from. */
export type FieldSource = string;

/** What `configure` worked out, for `record` and `tasks.ts spec`. */
type Pending = {
  recordPath: string;
  recordShown: string;
  specShown: string | undefined;
  oldFlags: Record_['flags'];
  newFlags: Record_['flags'];
  given: Partial<Record<Recordable, string>>;
  reset: boolean;
  /** The config with the recorded flags but without this run's flags and reset. */
  before: ClusterConfig;
  /** Defaults ← spec file: what a field is when no flag is recorded. */
  base: ClusterConfig;
  /** The spec the last real run used (output/spec.json), if any. */
  lastSpec: ClusterConfig | undefined;
  recordText: string | undefined;
  sources: Record<keyof ClusterConfig, FieldSource>;
};

const pendingByConfig = new WeakMap<ClusterConfig, Pending>();

const normalise = (name: Recordable, value: string): string | number => (name === 'binaries' ? value : /^\d+$/.test(value) ? Number(value) : value);
const asFlags = (flags: Record_['flags']): Record<string, string> => Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, String(v)]));

/**
 * The project's `configure`: defaults ← the spec file (--config FILE, else harder.config.ts at the root when
 * present) ← the flags recorded in output/spec.json (none with --reset) ← this run's flags, checked as one
 * config (every problem in one ConfigError). Warns once per recorded flag that overrides the spec file.
 */
export async function configureCluster(flags: Record<string, string>, root: string, context: { cwd: string; warn(line: string): void; outDir?: string }): Promise<ClusterConfig> {
  const { cwd, warn } = context;
  const outDir = context.outDir ?? join(root, 'output');
  let specFile: { shownAs: string; values: Partial<ClusterConfig>; problems: ConfigProblem[] } | undefined;
  if (flags.config !== undefined) {
    if (flags.config === '') throw new OptionError('--config needs a file name, got ""');
    specFile = { shownAs: flags.config, ...(await loadSpecFile(resolve(cwd, flags.config), flags.config, true)) };
  } else if (existsSync(join(root, SPEC_FILE))) {
    specFile = { shownAs: SPEC_FILE, ...(await loadSpecFile(join(root, SPEC_FILE), SPEC_FILE, false)) };
  }
  const recordPath = join(outDir, RECORD_FILE);
  const fromRoot = relative(root, recordPath);
  const recordShown = !fromRoot.startsWith('..') && !isAbsolute(fromRoot) ? fromRoot : recordPath;
  const reset = flags.reset !== undefined;
  const { record, problems } = readRecord(recordPath, recordShown);
  // A broken record stops the run (it would change the cluster silently otherwise), unless it is being forgotten.
  if (problems.length && !reset) throw new ConfigError(problems, 'output/spec.json is written by the CLI; npx tsx tasks.ts spec --reset forgets it');
  const oldFlags = record?.flags ?? {};
  const kept = reset ? {} : oldFlags;
  const given: Partial<Record<Recordable, string>> = {};
  for (const name of RECORDABLE) if (flags[name] !== undefined) given[name] = flags[name];

  const config = configFromFlags(flags, root, { cwd, warn, specFile, recorded: { flags: asFlags(kept), shownAs: recordShown } });

  // Unchecked views for what changed: the spec alone, and the spec before this run's flags.
  const quiet = (recorded: Record_['flags']): ClusterConfig | undefined => {
    try {
      return configFromFlags({}, root, { cwd, warn: () => {}, specFile, recorded: { flags: asFlags(recorded), shownAs: recordShown } });
    } catch {
      return undefined;
    }
  };
  const base = quiet({}) ?? config;
  const before = quiet(oldFlags) ?? base;

  // This run's flags join the kept ones; a flag whose value is the spec's own (file or default) is not
  // recorded (and forgets an earlier one): the spec file says it already.
  const newFlags: Record_['flags'] = { ...kept };
  for (const name of RECORDABLE) {
    const value = given[name];
    if (value === undefined) continue;
    const normal = normalise(name, value);
    if (normal === FIELD[name].of(base)) delete newFlags[name];
    else newFlags[name] = normal;
  }
  // A recorded flag that overrides the spec file's value, not repeated this run: say so once.
  if (specFile) {
    for (const name of RECORDABLE) {
      const value = newFlags[name];
      if (value === undefined || given[name] !== undefined || !FIELD[name].fileSets(specFile.values)) continue;
      const fileValue = FIELD[name].of(base);
      if (fileValue === value) continue;
      warn(`${recordShown}: the recorded --${name} ${value} wins over ${specFile.shownAs} (${FIELD[name].label} ${fileValue}); to use the file's, run once with --${name} ${fileValue}, or forget every recorded flag: npx tsx tasks.ts spec --reset`);
    }
  }

  const sourceOf = (name: Recordable): string | undefined => {
    if (given[name] !== undefined) return `flag --${name} ${given[name]}`;
    if (kept[name] !== undefined) return `recorded flag --${name} ${kept[name]} (${recordShown})`;
    return undefined;
  };
  const fileOrDefault = (field: keyof ClusterConfig): string => (specFile && specFile.values[field] !== undefined ? `file ${specFile.shownAs}` : 'default');
  const sources = Object.fromEntries(Object.keys(defaultConfig).map((field) => [field, fileOrDefault(field as keyof ClusterConfig)])) as Record<keyof ClusterConfig, FieldSource>;
  const cp = sourceOf('control-planes');
  const wk = sourceOf('workers');
  if (cp || wk) sources.nodes = `control planes: ${cp ?? fileOrDefault('nodes')}; workers: ${wk ?? fileOrDefault('nodes')}`;
  const bin = sourceOf('binaries');
  if (bin) sources.binarySource = bin;

  let recordText: string | undefined;
  try {
    recordText = readFileSync(recordPath, 'utf8');
  } catch {
    recordText = undefined;
  }
  pendingByConfig.set(config, { recordPath, recordShown, specShown: specFile?.shownAs, oldFlags, newFlags, given, reset, before, base, lastSpec: problems.length ? undefined : record?.spec, recordText, sources });
  return config;
}

/** A value on one line, for `spec` and --explain: nodes by name, others as JSON (shortened). */
export function showValue(field: string, value: unknown): string {
  if (value === undefined) return '(absent)';
  if (field === 'nodes' && Array.isArray(value)) return value.map((n: { name?: unknown; role?: unknown }) => `${String(n.name)}${n.role === 'control-plane' ? ' (control plane)' : ''}`).join(', ') || '(none)';
  const text = JSON.stringify(value);
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The project's `record`: says what this run's flags (or --reset) change in the spec, field by field with
 * --explain; and, unless a dry run, writes output/spec.json atomically (the recorded flags and the
 * effective spec) when its content changes. A dry run writes nothing and says what it would record.
 */
export async function recordSpec(config: ClusterConfig, context: RecordContext): Promise<void> {
  const p = pendingByConfig.get(config);
  if (!p) return;
  const { dryRun, say } = context;
  const where = dryRun ? `would be recorded in ${p.recordShown}; dry run: nothing recorded` : `recorded in ${p.recordShown}`;
  for (const name of RECORDABLE) {
    const { label, of } = FIELD[name];
    const from = of(p.before);
    const to = of(config);
    const was = p.oldFlags[name];
    const now = p.newFlags[name];
    if (now !== undefined && (now !== was || from !== to)) say(`spec: ${label} ${from} → ${to} (${where})`);
    else if (now === undefined && was !== undefined) {
      const origin = p.specShown && from !== to ? `the value of ${p.specShown}` : p.specShown ? `as in ${p.specShown}` : 'the default';
      say(`spec: ${label} ${from} → ${to} (${origin}; ${dryRun ? 'would forget' : 'forgot'} the recorded --${name} ${was}${dryRun ? ', dry run: nothing changed' : ''})`);
    }
  }
  if (context.explain) {
    // Every field that differs from what the last run used (or, on a first run, from the spec without this run's flags).
    const last = p.lastSpec ?? p.before;
    const since = p.lastSpec ? 'since the last run' : 'with this run\'s flags';
    for (const field of Object.keys(defaultConfig) as (keyof ClusterConfig)[]) {
      if (same(last[field], config[field])) continue;
      say(`spec: ${field}: ${showValue(field, last[field])} → ${showValue(field, config[field])} (from ${p.sources[field]}; changed ${since})`);
    }
  }
  if (dryRun) return;
  // Written when the recorded flags change, and kept current once it exists (the baseline of --explain);
  // a project that never records a flag never gets one.
  if (p.recordText === undefined && same(p.oldFlags, p.newFlags)) return;
  const text = `${JSON.stringify({ format: RECORD_FORMAT, flags: p.newFlags, spec: config }, null, 2)}\n`;
  if (text === p.recordText) return;
  const { writeFileAtomic } = await import('../../lib/engine/atomic.ts');
  writeFileAtomic(p.recordPath, text);
}

/** `npx tsx tasks.ts spec`: the effective spec and where each field came from; builds nothing, needs no Docker. */
export const specCommand: ProjectCommand<ClusterConfig> = {
  usage: '[--reset]',
  description: `print the effective cluster spec and where each field comes from (default, ${SPEC_FILE}, recorded flag); --reset forgets recorded flags`,
  targets: () => [],
  run(args, config, io) {
    if (args.length) throw new CliError('bad-command-args', `spec takes no arguments, got ${args.map((a) => JSON.stringify(a)).join(' ')}`, 'npx tsx tasks.ts spec [--reset] [--workers N …]');
    const p = pendingByConfig.get(config);
    const lines: string[] = [];
    lines.push(`spec file: ${p?.specShown ?? `none (no ${SPEC_FILE} at the project root; see harder.config.example.ts)`}`);
    const flags = Object.entries(p?.newFlags ?? {});
    const changed = !!p && !same(p.oldFlags, p.newFlags);
    lines.push(`recorded flags: ${flags.length ? flags.map(([k, v]) => `--${k} ${v}`).join(' ') : 'none'}${p ? ` (${p.recordShown})` : ''}${io.dryRun && changed ? ' (dry run: what a real run would record; nothing recorded)' : ''}`);
    const fields = Object.keys(defaultConfig) as (keyof ClusterConfig)[];
    const width = Math.max(...fields.map((f) => f.length));
    for (const field of fields) lines.push(`  ${field.padEnd(width)}  ${showValue(field, config[field])}  ← ${p?.sources[field] ?? 'default'}`);
    io.out(`${lines.join('\n')}\n`);
    return 0;
  },
};
