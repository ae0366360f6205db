// Project flags → ClusterConfig: `--control-planes N`, `--workers N`, `--binaries SRC`, `--config FILE`
// (JSON overrides of any ClusterConfig field). The config is checked once, here, before any target is
// made: every problem is reported at once, one line each — `<file>: <field>: <problem>; <what is valid>`.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ProjectFlag } from '../../lib/cli/index.ts';
import { ConfigError, OptionError } from '../../lib/errors.ts';
import { suggest } from '../../lib/engine/index.ts';
import {
  BINARY_SOURCES,
  checkConfigFields,
  controlPlanes,
  defaultConfig,
  defaultNodes,
  machineProblems,
  workers,
  type BinarySource,
  type ClusterConfig,
  type ConfigCheck,
  type ConfigProblem,
  type NodeSpec,
} from './config.ts';
import { ipPlanProblems } from '../net/ip-plan.ts';
import { mergeAddons } from '../addons/spec.ts';

export const projectFlags: ProjectFlag[] = [
  { name: 'control-planes', value: 'N', description: `number of control-plane nodes (default ${controlPlanes(defaultConfig).length}; use an odd number)` },
  { name: 'workers', value: 'N', description: `number of worker nodes (default ${workers(defaultConfig).length})` },
  { name: 'binaries', value: 'SRC', description: `where Kubernetes binaries come from: auto, release, dir or go (default ${defaultConfig.binarySource})` },
  { name: 'no-kubeconfig', description: 'leave $KUBECONFIG / ~/.kube/config alone this run: no harder-<name> context merged or removed (for good: mergeKubeconfig: false)' },
  { name: 'trust-new-hosts', description: 'SSH machines: accept and record (in output/ssh/known_hosts) the host key of a machine seen for the first time; a changed key is still refused' },
  { name: 'config', value: 'FILE', description: 'JSON file overriding ClusterConfig fields (tasks/config/config.ts), relative to the current directory; flags win over it' },
];

/** Every check of a whole config: its fields (tasks/config/config.ts) and its addresses (tasks/net/ip-plan.ts). */
export function checkConfig(config: ClusterConfig): ConfigCheck {
  const fields = checkConfigFields(config);
  return { errors: [...fields.errors, ...ipPlanProblems(config)], warnings: fields.warnings };
}

const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`);

function checkNodes(value: unknown): { nodes?: NodeSpec[]; problems: ConfigProblem[] } {
  const shape = '{ "name": "worker-1", "role": "worker" }';
  if (!Array.isArray(value) || value.length === 0) {
    return { problems: [{ field: 'nodes', problem: Array.isArray(value) ? 'is empty' : `is ${kindOf(value)}`, valid: `use a non-empty array of nodes like ${shape}` }] };
  }
  const problems: ConfigProblem[] = [];
  value.forEach((node: unknown, i) => {
    const field = `nodes[${i}]`;
    if (!node || typeof node !== 'object' || Array.isArray(node)) {
      problems.push({ field, problem: `is ${kindOf(node)}`, valid: `use an object like ${shape}` });
      return;
    }
    const { name, role, ...rest } = node as Record<string, unknown>;
    if (typeof name !== 'string') problems.push({ field: `${field}.name`, problem: name === undefined ? 'is missing' : `is ${kindOf(name)}`, valid: 'use a string, e.g. "worker-1"' });
    if (role !== 'control-plane' && role !== 'worker') {
      problems.push({ field: `${field}.role`, problem: role === undefined ? 'is missing' : `${JSON.stringify(role)} is not a role`, valid: 'use "control-plane" or "worker"' });
    }
    for (const key of Object.keys(rest)) problems.push({ field: `${field}.${key}`, problem: 'is not a node field', valid: 'a node has only "name" and "role"' });
  });
  return problems.length ? { problems } : { nodes: value.map((n: NodeSpec) => ({ name: n.name, role: n.role })), problems };
}

/**
 * Reads a --config file: a JSON object of ClusterConfig fields, each of the default's type. A file
 * that cannot be read or parsed is one OptionError naming it (`shownAs`: the path as the user gave it);
 * field problems are returned, all of them, and the fields at fault left out of `values`.
 */
export function readConfigFile(path: string, shownAs: string = path): { values: Partial<ClusterConfig>; problems: ConfigProblem[] } {
  const example = 'a JSON object of ClusterConfig fields (tasks/config/config.ts), e.g. {"clusterName": "demo", "serviceCidr": "10.33.0.0/24"}';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new OptionError(`--config ${shownAs}: no such file (looked for ${path})`, 'a relative --config path is relative to the current directory');
    throw new OptionError(`--config ${shownAs}: cannot be read (${code === 'EISDIR' ? 'it is a directory' : (code ?? (error as Error).message)})`, `give the path of a file holding ${example}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new OptionError(`--config ${shownAs}: not valid JSON (${(error as Error).message})`, `the file holds ${example}`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new OptionError(`--config ${shownAs}: is ${kindOf(data)}, not a JSON object`, `the file holds ${example}`);
  return specFields(data as Record<string, unknown>);
}

/**
 * The ClusterConfig fields of a spec (a --config JSON file's object, or a harder.config.ts default export),
 * each checked against the default's type: every problem is returned, the fields at fault left out of `values`.
 */
export function specFields(data: Record<string, unknown>): { values: Partial<ClusterConfig>; problems: ConfigProblem[] } {
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  const fields = Object.keys(defaultConfig);
  for (const [key, value] of Object.entries(data)) {
    if (!Object.hasOwn(defaultConfig, key)) {
      const close = suggest(key, fields);
      problems.push({ field: key, problem: 'is not a ClusterConfig field', valid: close.length ? `did you mean ${close.join(' or ')}?` : `the fields are ${fields.join(', ')}` });
      continue;
    }
    const expected: unknown = defaultConfig[key as keyof ClusterConfig];
    if (key === 'nodes') {
      const checked = checkNodes(value);
      problems.push(...checked.problems);
      if (checked.nodes) values.nodes = checked.nodes;
    } else if (key === 'addons') {
      // Merged over the defaults here, so a spec that names one add-on's one setting keeps the rest.
      const merged = mergeAddons(value);
      problems.push(...merged.problems);
      values.addons = merged.addons;
    } else if (kindOf(value) !== kindOf(expected)) {
      const shown = value === null ? '' : ` (${JSON.stringify(value)})`;
      problems.push({ field: key, problem: `is ${kindOf(value)}${shown}, not ${kindOf(expected)}`, valid: `use ${kindOf(expected)}, e.g. ${JSON.stringify(expected)}` });
    } else {
      values[key] = value;
    }
  }
  return { values: values as Partial<ClusterConfig>, problems };
}

/** What the CLI hands `configure` besides the flags. */
export type ConfigureContext = {
  /** Where a relative --config path starts (default: the process's current directory). */
  cwd?: string;
  /** Receives each warning line (default: printed to stderr). */
  warn?: (line: string) => void;
  /** A spec file already read (tasks/config/spec.ts: harder.config.ts or --config FILE); `flags.config` is then not read again. */
  specFile?: { shownAs: string; values: Partial<ClusterConfig>; problems: ConfigProblem[] };
  /** Flags recorded by earlier runs (output/spec.json), applied under this run's flags; `shownAs` names the record. */
  recorded?: { flags: Record<string, string>; shownAs: string };
};

function count(flag: string, text: string, min: number, max: number, problems: string[]): number | undefined {
  if (!/^\d+$/.test(text)) problems.push(`--${flag} wants a whole number from ${min} to ${max}, got "${text}"`);
  else if (Number(text) < min || Number(text) > max) problems.push(`--${flag} ${Number(text)} is out of range; use ${min}..${max}`);
  else return Number(text);
  return undefined;
}

/**
 * The ClusterConfig for these flag values (defaults ← --config file ← flags), checked: throws one
 * ConfigError listing every problem (exit 2), and passes warnings (an even number of control planes)
 * to `context.warn`. `_root` (the project root) is not where --config is looked for: the current directory is.
 */
export function configFromFlags(flags: Record<string, string>, _root?: string, context: ConfigureContext = {}): ClusterConfig {
  const cwd = context.cwd ?? process.cwd();
  const warn = context.warn ?? ((line: string) => void process.stderr.write(`warning: ${line}\n`));
  const lines: string[] = [];
  let config: ClusterConfig = { ...defaultConfig };
  let fileProblems: ConfigProblem[] = [];
  let fileFields: Partial<ClusterConfig> = {};
  let file = flags.config;
  if (context.specFile) {
    file = context.specFile.shownAs;
    ({ values: fileFields, problems: fileProblems } = context.specFile);
    config = { ...config, ...fileFields };
  } else if (file !== undefined) {
    if (file === '') throw new OptionError('--config needs a file name, got ""');
    ({ values: fileFields, problems: fileProblems } = readConfigFile(resolve(cwd, file), file));
    config = { ...config, ...fileFields };
  }
  // This run's flags over the recorded ones; a problem with a recorded one names the record.
  const recorded = context.recorded?.flags ?? {};
  const flagValue = (name: string): string | undefined => flags[name] ?? recorded[name];
  const flagLabel = (name: string, value: string): string => (flags[name] !== undefined ? `--${name} ${value}` : `${context.recorded!.shownAs}: recorded --${name} ${value}`);
  const countOf = (name: string, text: string, max: number): number | undefined => {
    const own: string[] = [];
    const n = count(name, text, 1, max, own);
    lines.push(...own.map((l) => (flags[name] !== undefined ? l : `${context.recorded!.shownAs}: recorded ${l}`)));
    return n;
  };
  // Which flag set a field, so a problem with it names the flag instead of the file.
  const byFlag: Partial<Record<keyof ClusterConfig, string>> = {};
  const cpFlag = flagValue('control-planes');
  const wkFlag = flagValue('workers');
  if (cpFlag !== undefined || wkFlag !== undefined) {
    const cp = cpFlag !== undefined ? countOf('control-planes', cpFlag, 9) : undefined;
    const wk = wkFlag !== undefined ? countOf('workers', wkFlag, 50) : undefined;
    if (cp !== undefined || wk !== undefined) {
      config.nodes = defaultNodes({ controlPlanes: cp ?? controlPlanes(config).length, workers: wk ?? workers(config).length });
      if (cp !== undefined) byFlag.nodes = flagLabel('control-planes', String(cp));
      else if (fileFields.nodes === undefined) byFlag.nodes = flagLabel('workers', String(wk));
    }
  }
  // --name selects the cluster (tasks/config/clusters.ts); it is never recorded: the record is the cluster's own.
  if (flags.name !== undefined) {
    config.clusterName = flags.name;
    byFlag.clusterName = `--name ${flags.name}`;
  }
  // Malformed machines are reported by the check below, field by field; the nodes are derived only from good ones.
  if (Array.isArray(config.machines) && config.machines.length > 0 && machineProblems(config).length === 0) {
    // The machines are the nodes: a node list or a count flag that says otherwise is a mistake, not a choice.
    const fromMachines = config.machines.map((m) => ({ name: m.name, role: m.role }));
    if (byFlag.nodes) lines.push(`${byFlag.nodes}: the nodes are the machines listed in ${file ?? 'the spec'} (machines); add or remove machines there`);
    else if (fileFields.nodes !== undefined && JSON.stringify(fileFields.nodes) !== JSON.stringify(fromMachines)) {
      lines.push(`${file}: nodes: differs from the machines' names and roles; leave nodes out when machines is set (the machines are the nodes)`);
    }
    config.nodes = fromMachines;
  }
  // Trust on first use is asked for per run, never recorded: the fleet reads it (tasks/nodes/node-fleet.ts).
  if (flags['trust-new-hosts'] !== undefined) process.env.HARDER_TRUST_NEW_HOSTS = '1';
  const binaries = flagValue('binaries');
  if (binaries !== undefined) {
    if (!BINARY_SOURCES.includes(binaries as BinarySource)) lines.push(`${flagLabel('binaries', binaries)} is not a binary source; use one of ${BINARY_SOURCES.join(', ')}`);
    else {
      config.binarySource = binaries as BinarySource;
      byFlag.binarySource = flagLabel('binaries', binaries);
    }
  }
  // A one-run flag, not recorded: the spec field is the lasting choice.
  if (flags['no-kubeconfig'] !== undefined) {
    config.mergeKubeconfig = false;
    byFlag.mergeKubeconfig = '--no-kubeconfig';
  }
  const check = checkConfig(config);
  const fileLine = (p: ConfigProblem): string => `${file ?? 'tasks/config/config.ts'}: ${p.field}: ${p.problem}; ${p.valid}`;
  const line = (p: ConfigProblem): string => {
    const flag = byFlag[p.field.split(/[.[]/)[0] as keyof ClusterConfig];
    // A problem no flag caused is the file's (a field it set, or one its fields do not fit with); without a file, the defaults'.
    return flag ? `${flag}: ${p.problem}; ${p.valid}` : fileLine(p);
  };
  lines.push(...fileProblems.map(fileLine), ...check.errors.map(line));
  if (lines.length) throw new ConfigError(lines, file !== undefined ? 'tasks/config/config.ts describes every field and its default' : undefined);
  for (const warning of check.warnings) warn(line(warning));
  return config;
}
