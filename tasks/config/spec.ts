// The cluster spec that lasts: defaults ← harder.config.ts (or --config FILE) ← flags recorded in output/spec.json ← this run's flags; records what flags change, and says where each field came from (`tasks.ts spec`).

import { existsSync, readFileSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ProjectCommand, ProjectFlag, RecordContext } from '../../lib/cli/index.ts';
import { CliError, ConfigError, OptionError } from '../../lib/errors.ts';
import { controlPlanes, defaultConfig, DNS_LABEL_RULE, etcdVersionOf, labelProblem, workers, type ClusterConfig, type ConfigProblem } from './config.ts';
import { configFromFlags, projectFlags, readConfigFile, specFields } from './options.ts';
import {
  ALLOCATION_POOL,
  allocateSubnet,
  hostPortForSubnet,
  baseOfStateDir,
  clusterStateDir,
  listDockerNetworks,
  recordedClusters,
  stateDirUnder,
  subnetClashes,
  type NetworkFacts,
  type Reserved,
} from './clusters.ts';
import { ipPlanProblems } from '../net/ip-plan.ts';
import { importModule } from '../../lib/ts-import.ts';
import { recordedTargets } from '../../lib/engine/state.ts';
import { etcdSkewRefusalLine, skewRefusalLine } from '../cluster/upgrade/index.ts';
import { kubeadmImageVersions } from '../images/image-versions.ts';

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
  // kind's word. No short form: -n is --dry-run.
  {
    name: 'name',
    value: 'NAME',
    description: `the cluster to work on, as kind's --name (default: the spec's clusterName, state in output/); another name is a cluster of its own beside it: state in output/clusters/NAME/, Docker network NAME, containers NAME-<node>, a free node subnet`,
  },
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
    module = (await importModule(path)) as { default?: unknown };
  } catch (error) {
    throw new OptionError(`${label}: cannot be loaded: ${loadFailure(error, path, shownAs)}`, hint);
  }
  if (!isPlainObject(module.default)) throw new OptionError(`${label}: its default export is ${module.default === undefined ? 'missing' : kindOf(module.default)}, not a spec object`, hint);
  return specFields(module.default);
}

/** What output/spec.json holds: the flags runs recorded (as given, normalised) and the spec the last run used. */
type Record_ = { format: number; flags: Partial<Record<Recordable, string | number>>; spec?: ClusterConfig; allocated?: Allocated };
/** What configure allocated for a named cluster whose spec leaves it open (tasks/config/clusters.ts): kept by every later run, --reset included. */
type Allocated = { nodeSubnet: string };

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
  let allocated: Allocated | undefined;
  if (data.allocated !== undefined) {
    if (isPlainObject(data.allocated) && typeof data.allocated.nodeSubnet === 'string') allocated = { nodeSubnet: data.allocated.nodeSubnet };
    else problems.push(`${shownAs}: allocated: is not { "nodeSubnet": "<cidr>" }; it is written by the CLI: remove the file to allocate again`);
  }
  return { record: { format: RECORD_FORMAT, flags, ...(isPlainObject(data.spec) ? { spec: data.spec as ClusterConfig } : {}), ...(allocated ? { allocated } : {}) }, problems };
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
  /** The cluster's name and its state directory as messages show it. */
  cluster: { name: string; stateShown: string };
  /** The node subnet allocated to this named cluster; `fresh` on the run that chose it (not yet recorded). */
  allocated: (Allocated & { fresh: boolean }) | undefined;
};

const pendingByConfig = new WeakMap<ClusterConfig, Pending>();

const normalise = (name: Recordable, value: string): string | number => (name === 'binaries' ? value : /^\d+$/.test(value) ? Number(value) : value);
const asFlags = (flags: Record_['flags']): Record<string, string> => Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, String(v)]));

type SpecFile = { shownAs: string; values: Partial<ClusterConfig>; problems: ConfigProblem[] };

// The spec file is read by stateDirFor (to know the default cluster's name) and again by configure: once.
const specFiles = new Map<string, Promise<SpecFile | undefined>>();

/** The spec file: --config FILE (relative to cwd), else harder.config.ts at the root when present, else none. */
function readSpecFile(flags: Record<string, string>, root: string, cwd: string): Promise<SpecFile | undefined> {
  const key = JSON.stringify([flags.config, root, cwd]);
  let found = specFiles.get(key);
  if (!found) {
    found = (async () => {
      if (flags.config !== undefined) {
        if (flags.config === '') throw new OptionError('--config needs a file name, got ""');
        return { shownAs: flags.config, ...(await loadSpecFile(resolve(cwd, flags.config), flags.config, true)) };
      }
      if (existsSync(join(root, SPEC_FILE))) return { shownAs: SPEC_FILE, ...(await loadSpecFile(join(root, SPEC_FILE), SPEC_FILE, false)) };
      return undefined;
    })();
    specFiles.set(key, found);
  }
  return found;
}

/** The cluster this run works on: `--name`, else the spec's clusterName (the default cluster); a bad name is an OptionError. */
function selectCluster(flags: Record<string, string>, specFile: SpecFile | undefined): { name: string; defaultName: string } {
  const defaultName = specFile?.values.clusterName ?? defaultConfig.clusterName;
  const name = flags.name ?? defaultName;
  const problem = flags.name !== undefined ? labelProblem(flags.name) : undefined;
  if (problem) {
    throw new OptionError(
      `--name ${JSON.stringify(flags.name)}: ${problem}`,
      `a cluster name names its Docker network, prefixes its containers and its state directory output/clusters/<name>: use ${DNS_LABEL_RULE}, e.g. --name demo`,
    );
  }
  return { name, defaultName };
}

/**
 * The project's `stateDir`: `base` (output/) for the default cluster, `base/clusters/<name>` for another
 * (tasks/config/clusters.ts). Fixed before configure reads the recorded spec, which lives there.
 */
export async function stateDirFor(flags: Record<string, string>, base: string, context: { root: string; cwd: string }): Promise<string> {
  const { name, defaultName } = selectCluster(flags, await readSpecFile(flags, context.root, context.cwd));
  return stateDirUnder(base, name, defaultName);
}

/** A path as messages show it: relative to the root when inside it. */
function shown(root: string, path: string): string {
  const fromRoot = relative(root, path);
  return !fromRoot.startsWith('..') && !isAbsolute(fromRoot) ? fromRoot || '.' : path;
}

/**
 * The project's `configure`: defaults ← the spec file (--config FILE, else harder.config.ts at the root when
 * present) ← the flags recorded in the cluster's spec.json (none with --reset) ← this run's flags, checked as
 * one config (every problem in one ConfigError). Warns once per recorded flag that overrides the spec file.
 * A cluster named with --name whose spec leaves nodeSubnet open gets a free one (allocated once, then
 * recorded); a node subnet that overlaps another cluster's Docker network is refused here, before anything runs.
 */
export async function configureCluster(
  flags: Record<string, string>,
  root: string,
  context: { cwd: string; warn(line: string): void; outDir?: string; printOnly?: boolean; networks?: () => Promise<NetworkFacts[] | undefined> },
): Promise<ClusterConfig> {
  const { cwd, warn } = context;
  const specFile = await readSpecFile(flags, root, cwd);
  const { name, defaultName } = selectCluster(flags, specFile);
  const outDir = context.outDir ?? stateDirUnder(join(root, 'output'), name, defaultName);
  const baseOutDir = baseOfStateDir(outDir, name, defaultName);
  const recordPath = join(outDir, RECORD_FILE);
  const recordShown = shown(root, recordPath);
  const reset = flags.reset !== undefined;
  const { record, problems } = readRecord(recordPath, recordShown);
  // A broken record stops the run (it would change the cluster silently otherwise), unless it is being forgotten.
  if (problems.length && !reset) throw new ConfigError(problems, `${recordShown} is written by the CLI; npx tsx tasks.ts spec --reset forgets it`);
  const oldFlags = record?.flags ?? {};
  const kept = reset ? {} : oldFlags;
  const given: Partial<Record<Recordable, string>> = {};
  for (const flag of RECORDABLE) if (flags[flag] !== undefined) given[flag] = flags[flag];

  // A Kubernetes version the running cluster may not move to (the version-skew policy: one minor up at a
  // time, no downgrade across minors) is refused first, in one line, before anything else is checked or
  // built: the version it runs is what the last runs recorded (tasks/cluster/upgrade).
  // The same for etcd's own rule (one minor at a time), against what the control planes' records say they run.
  const wanted = specFile?.values.kubernetesVersion ?? defaultConfig.kubernetesVersion;
  if (typeof wanted === 'string') {
    const records = recordedTargets(outDir);
    const shownAs = specFile?.shownAs ?? 'tasks/config/config.ts (default)';
    const etcd = specFile?.values.etcdVersion ?? defaultConfig.etcdVersion;
    const refusals = [
      skewRefusalLine(wanted, records, shownAs),
      typeof etcd === 'string' && (etcd !== 'auto' || kubeadmImageVersions(wanted)) ? etcdSkewRefusalLine(etcdVersionOf({ etcdVersion: etcd, kubernetesVersion: wanted }), etcd, records, shownAs) : undefined,
    ].filter((r): r is string => r !== undefined);
    if (refusals.length) throw new ConfigError(refusals, 'nothing was changed; the plan of an allowed change: npx tsx tasks.ts cluster --dry-run --explain');
  }
  const config = configFromFlags(flags, root, { cwd, warn, specFile, recorded: { flags: asFlags(kept), shownAs: recordShown } });
  const isDefault = name === defaultName;
  if (!isDefault) config.stateDir = clusterStateDir(name, defaultName);

  // Unchecked views for what changed: the spec alone, and the spec before this run's flags (of this cluster).
  const nameFlag: Record<string, string> = flags.name !== undefined ? { name: flags.name } : {};
  const quiet = (recorded: Record_['flags']): ClusterConfig | undefined => {
    try {
      return configFromFlags(nameFlag, root, { cwd, warn: () => {}, specFile, recorded: { flags: asFlags(recorded), shownAs: recordShown } });
    } catch {
      return undefined;
    }
  };
  const base = quiet({}) ?? config;
  const before = quiet(oldFlags) ?? base;

  // The node subnet: the spec's when it sets one (or for the default cluster: its default), else allocated.
  // Not for --graph or --help: they print, and never talk to Docker (the overlap check is a courtesy
  // there; net:network refuses an overlap anyway when it creates the network).
  const networks = context.printOnly ? undefined : await (context.networks ?? listDockerNetworks)();
  let allocated: Pending['allocated'];
  if (!isDefault && specFile?.values.nodeSubnet === undefined) {
    if (record?.allocated) allocated = { ...record.allocated, fresh: false };
    else {
      const reserved: Reserved[] = [
        ...(networks ?? []).filter((n) => n.name !== name).flatMap((n) => n.subnets.map((subnet) => ({ subnet, what: `Docker network ${n.name}` }))),
        ...recordedClusters(baseOutDir, defaultName, name, shown(root, baseOutDir)).map((c) => ({ subnet: c.nodeSubnet, what: `cluster ${c.name} (${c.where})` })),
        { subnet: base.nodeSubnet, what: `the default cluster ${defaultName}'s nodeSubnet` },
        { subnet: config.serviceCidr, what: 'serviceCidr' },
        { subnet: config.clusterCidr, what: 'clusterCidr' },
      ];
      // Our own network, when the record was lost: keep it rather than have net:network recreate it.
      const own = networks?.find((n) => n.name === name && n.cluster === name)?.subnets[0];
      const subnet = allocateSubnet(reserved, own);
      if (!subnet) {
        throw new ConfigError(
          [`${recordShown}: nodeSubnet: every /24 of ${ALLOCATION_POOL} overlaps another cluster or Docker network; set nodeSubnet in the spec for cluster ${name} (--config FILE)`],
          'npx tsx tasks.ts spec --name <other> shows each cluster\'s subnet; clean:nodes --name <other> removes an unused one\'s network',
        );
      }
      if (!networks && !context.printOnly) warn(`no Docker engine answered: nodeSubnet ${subnet} for cluster ${name} was chosen against the recorded clusters only (net:network still refuses an overlap when it creates the network)`);
      allocated = { nodeSubnet: subnet, fresh: true };
    }
    config.nodeSubnet = allocated.nodeSubnet;
    before.nodeSubnet = allocated.nodeSubnet;
    // Side by side clusters need their own API host port (tasks/endpoint): it follows the allocated subnet.
    if (specFile?.values.apiHostPort === undefined) config.apiHostPort = before.apiHostPort = hostPortForSubnet(allocated.nodeSubnet);
    const planProblems = ipPlanProblems(config);
    if (planProblems.length) throw new ConfigError(planProblems.map((p) => `${recordShown}: allocated ${p.field}: ${p.problem}; ${p.valid}`), `set nodeSubnet in the spec for cluster ${name} (--config FILE)`);
  }
  // An overlap with another cluster's network fails net:network anyway; here it fails before anything runs.
  // A fresh allocation overlaps nothing by construction.
  if (networks && !allocated?.fresh) {
    const clashes = subnetClashes(config.nodeSubnet, networks, name);
    if (clashes.length) {
      const where = allocated ? `${recordShown}: allocated nodeSubnet` : `${specFile?.values.nodeSubnet !== undefined ? specFile.shownAs : 'tasks/config/config.ts (default)'}: nodeSubnet`;
      throw new ConfigError(
        [`${where}: ${config.nodeSubnet} of cluster ${name} overlaps ${clashes.join(', ')}; use a nodeSubnet no other cluster's network has${isDefault ? '' : ', or leave nodeSubnet out of the spec so a free /24 is allocated'}`],
        `npx tsx tasks.ts spec --name <cluster> shows a cluster's subnet; clean:nodes --name <cluster> removes that cluster's network`,
      );
    }
  }

  // This run's flags join the kept ones; a flag whose value is the spec's own (file or default) is not
  // recorded (and forgets an earlier one): the spec file says it already.
  const newFlags: Record_['flags'] = { ...kept };
  for (const flag of RECORDABLE) {
    const value = given[flag];
    if (value === undefined) continue;
    const normal = normalise(flag, value);
    if (normal === FIELD[flag].of(base)) delete newFlags[flag];
    else newFlags[flag] = normal;
  }
  // A recorded flag that overrides the spec file's value, not repeated this run: say so once.
  if (specFile) {
    for (const flag of RECORDABLE) {
      const value = newFlags[flag];
      if (value === undefined || given[flag] !== undefined || !FIELD[flag].fileSets(specFile.values)) continue;
      const fileValue = FIELD[flag].of(base);
      if (fileValue === value) continue;
      warn(`${recordShown}: the recorded --${flag} ${value} wins over ${specFile.shownAs} (${FIELD[flag].label} ${fileValue}); to use the file's, run once with --${flag} ${fileValue}, or forget every recorded flag: npx tsx tasks.ts spec --reset`);
    }
  }

  const sourceOf = (flag: Recordable): string | undefined => {
    if (given[flag] !== undefined) return `flag --${flag} ${given[flag]}`;
    if (kept[flag] !== undefined) return `recorded flag --${flag} ${kept[flag]} (${recordShown})`;
    return undefined;
  };
  const fileOrDefault = (field: keyof ClusterConfig): string => (specFile && specFile.values[field] !== undefined ? `file ${specFile.shownAs}` : 'default');
  const sources = Object.fromEntries(Object.keys(defaultConfig).map((field) => [field, fileOrDefault(field as keyof ClusterConfig)])) as Record<keyof ClusterConfig, FieldSource>;
  const cp = sourceOf('control-planes');
  const wk = sourceOf('workers');
  if (cp || wk) sources.nodes = `control planes: ${cp ?? fileOrDefault('nodes')}; workers: ${wk ?? fileOrDefault('nodes')}`;
  const bin = sourceOf('binaries');
  if (bin) sources.binarySource = bin;
  if (flags.name !== undefined) sources.clusterName = `flag --name ${flags.name}`;
  if (allocated && specFile?.values.apiHostPort === undefined) sources.apiHostPort = `from the allocated nodeSubnet ${allocated.nodeSubnet}: 6443 + its /24's index in ${ALLOCATION_POOL}`;
  if (allocated) sources.nodeSubnet = allocated.fresh ? `allocated on this run: the first free /24 of ${ALLOCATION_POOL} (${recordShown})` : `allocated, recorded in ${recordShown}`;
  if (flags['no-kubeconfig'] !== undefined) sources.mergeKubeconfig = 'flag --no-kubeconfig (this run only)';

  let recordText: string | undefined;
  try {
    recordText = readFileSync(recordPath, 'utf8');
  } catch {
    recordText = undefined;
  }
  pendingByConfig.set(config, {
    recordPath,
    recordShown,
    specShown: specFile?.shownAs,
    oldFlags,
    newFlags,
    given,
    reset,
    before,
    base,
    lastSpec: problems.length ? undefined : record?.spec,
    recordText,
    sources,
    cluster: { name, stateShown: shown(root, outDir) },
    allocated,
  });
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
  if (p.allocated?.fresh) say(`spec: nodeSubnet ${p.allocated.nodeSubnet} allocated to cluster ${p.cluster.name}: the first /24 of ${ALLOCATION_POOL} that no other cluster or Docker network uses (${where})`);
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
  // An allocation is recorded on the run that makes it, so no later run moves the subnet.
  if (p.recordText === undefined && same(p.oldFlags, p.newFlags) && !p.allocated?.fresh) return;
  const { stateDir: _where, ...spec } = config;
  const allocated = p.allocated ? { allocated: { nodeSubnet: p.allocated.nodeSubnet } } : {};
  const text = `${JSON.stringify({ format: RECORD_FORMAT, flags: p.newFlags, spec, ...allocated }, null, 2)}\n`;
  if (text === p.recordText) return;
  const { writeFileAtomic } = await import('../../lib/engine/atomic.ts');
  writeFileAtomic(p.recordPath, text);
}

/** `npx tsx tasks.ts spec`: the effective spec and where each field came from; builds nothing, needs no Docker. */
export const specCommand: ProjectCommand<ClusterConfig> = {
  usage: '[--reset] [--name NAME]',
  description: `print the effective cluster spec and where each field comes from (default, ${SPEC_FILE}, recorded flag); --reset forgets recorded flags`,
  targets: () => [],
  run(args, config, io) {
    if (args.length) throw new CliError('bad-command-args', `spec takes no arguments, got ${args.map((a) => JSON.stringify(a)).join(' ')}`, 'npx tsx tasks.ts spec [--reset] [--name NAME] [--workers N …]');
    const p = pendingByConfig.get(config);
    const lines: string[] = [];
    if (p) lines.push(`cluster: ${p.cluster.name} (state in ${p.cluster.stateShown}/)`);
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
