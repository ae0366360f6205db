// Project flags → ClusterConfig: `--control-planes N`, `--workers N`, `--binaries SRC`, `--config FILE`
// (JSON overrides of any ClusterConfig field). Every invalid value gets one message saying what to do.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { OptionError, type ProjectFlag } from '../lib/cli/index.ts';
import { defaultConfig, defaultNodes, type BinarySource, type ClusterConfig, type NodeSpec } from './config.ts';

export const projectFlags: ProjectFlag[] = [
  { name: 'control-planes', value: 'N', description: `number of control-plane nodes (default ${defaultConfig.nodes.filter((n) => n.role === 'control-plane').length})` },
  { name: 'workers', value: 'N', description: `number of worker nodes (default ${defaultConfig.nodes.filter((n) => n.role === 'worker').length})` },
  { name: 'binaries', value: 'SRC', description: `where Kubernetes binaries come from: auto, release, dir or go (default ${defaultConfig.binarySource})` },
  { name: 'config', value: 'FILE', description: 'JSON file overriding ClusterConfig fields (tasks/config.ts); flags win over it' },
];

const BINARY_SOURCES: BinarySource[] = ['auto', 'release', 'dir', 'go'];

function count(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new OptionError(`--${flag} wants a whole number, got "${text}"`);
  const n = Number(text);
  if (n < min || n > max) throw new OptionError(`--${flag} ${n} is out of range`, `use ${min}..${max}`);
  return n;
}

function checkNodes(value: unknown, file: string): NodeSpec[] {
  if (!Array.isArray(value) || value.length === 0) throw new OptionError(`${file}: "nodes" must be a non-empty array of { name, role }`);
  return value.map((node, i) => {
    if (!node || typeof node !== 'object' || typeof node.name !== 'string' || (node.role !== 'control-plane' && node.role !== 'worker') || Object.keys(node).length !== 2) {
      throw new OptionError(`${file}: nodes[${i}] must be { "name": string, "role": "control-plane" | "worker" }`);
    }
    return { name: node.name, role: node.role };
  });
}

/** Reads and checks a --config file: a JSON object of ClusterConfig fields, each of the default's type. */
export function readConfigFile(path: string): Partial<ClusterConfig> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new OptionError(
      code === 'ENOENT' ? `--config ${path}: no such file` : `--config ${path}: not valid JSON (${(error as Error).message})`,
      'the file holds a JSON object such as {"clusterName": "demo", "serviceCidr": "10.33.0.0/24"}',
    );
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new OptionError(`--config ${path}: must be a JSON object of ClusterConfig fields`);
  const out: Record<string, unknown> = {};
  const fields = Object.keys(defaultConfig);
  for (const [key, value] of Object.entries(data)) {
    if (!Object.hasOwn(defaultConfig, key)) throw new OptionError(`--config ${path}: unknown field "${key}"`, `fields: ${fields.join(', ')}`);
    const expected = defaultConfig[key as keyof ClusterConfig];
    if (key === 'nodes') out.nodes = checkNodes(value, path);
    else if (typeof value !== typeof expected) throw new OptionError(`--config ${path}: "${key}" must be a ${typeof expected}, got ${JSON.stringify(value)}`);
    else out[key] = value;
  }
  if (out.binarySource !== undefined && !BINARY_SOURCES.includes(out.binarySource as BinarySource)) {
    throw new OptionError(`--config ${path}: "binarySource" must be one of ${BINARY_SOURCES.join(', ')}`);
  }
  if (out.keyAlgorithm !== undefined && out.keyAlgorithm !== 'ecdsa' && out.keyAlgorithm !== 'rsa') throw new OptionError(`--config ${path}: "keyAlgorithm" must be ecdsa or rsa`);
  return out as Partial<ClusterConfig>;
}

/** The ClusterConfig for these flag values (defaults ← --config file ← flags). */
export function configFromFlags(flags: Record<string, string>, root: string = process.cwd()): ClusterConfig {
  let config: ClusterConfig = { ...defaultConfig };
  if (flags.config !== undefined) config = { ...config, ...readConfigFile(resolve(root, flags.config)) };
  const cp = config.nodes.filter((n) => n.role === 'control-plane').length;
  const wk = config.nodes.filter((n) => n.role === 'worker').length;
  if (flags['control-planes'] !== undefined || flags.workers !== undefined) {
    const controlPlanes = flags['control-planes'] !== undefined ? count('control-planes', flags['control-planes'], 1, 9) : cp;
    const workers = flags.workers !== undefined ? count('workers', flags.workers, 1, 50) : wk;
    config.nodes = defaultNodes({ controlPlanes, workers });
  }
  if (flags.binaries !== undefined) {
    if (!BINARY_SOURCES.includes(flags.binaries as BinarySource)) {
      throw new OptionError(`--binaries ${flags.binaries} is not a binary source`, `use one of ${BINARY_SOURCES.join(', ')}`);
    }
    config.binarySource = flags.binaries as BinarySource;
  }
  if (!config.nodes.some((n) => n.role === 'control-plane')) throw new OptionError('the config has no control-plane node', 'set --control-planes 1 or add one to "nodes"');
  return config;
}
