// Which Kubernetes version each node runs, from what the last runs recorded (no node is asked): the sha256 of
// the binary `install:<node>:<binary>` put there, matched to a version by the binary the run built
// (`bin:<binary>`'s recorded result) or, when that target has since been built for another version (a run
// of `binaries` alone, an upgrade interrupted after the build), by the binary cache's own records, which
// keep every version side by side (~/.cache/harder/bin/<version>/<source>/<name>, with `<name>.json` for
// a build and `<name>.stamp.json` once a run has checked it).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '../../../lib/engine/target.ts';
import { cachePath } from '../../../lib/cache-root.ts';
import type { NodeSpec } from '../../config/config.ts';
import { CONTROL_PLANE_COMPONENTS, WORKER_COMPONENTS, type Component, type RunningComponents } from './skew.ts';

/** What this module reads of the journal (lib/engine/state.ts RecordedTargets). */
export type Records = { result(name: string): Json | undefined };

/** A binary's version from its sha256, or undefined when no record names it. */
export type VersionOf = (binary: Component, sha256: string) => string | undefined;

/** A string field of a recorded result, or undefined. */
export const field = (value: Json | undefined, key: string): string | undefined => {
  const v = value && typeof value === 'object' && !Array.isArray(value) ? value[key] : undefined;
  return typeof v === 'string' ? v : undefined;
};

/** Every (version, sha256) of `binary` the binary cache has a record of. */
function cachedVersions(binary: string, root = cachePath('bin')): { version: string; sha256: string }[] {
  if (!existsSync(root)) return [];
  const out: { version: string; sha256: string }[] = [];
  for (const version of readdirSync(root)) {
    if (!/^v\d+\.\d+\.\d+$/.test(version)) continue;
    let sources: string[] = [];
    try {
      sources = readdirSync(join(root, version));
    } catch {
      continue;
    }
    for (const source of sources) {
      for (const file of [`${binary}.json`, `${binary}.stamp.json`]) {
        try {
          const sha256 = field(JSON.parse(readFileSync(join(root, version, source, file), 'utf8')) as Json, 'sha256');
          if (sha256) out.push({ version, sha256 });
        } catch {
          // no such record
        }
      }
    }
  }
  return out;
}

/**
 * Matches a sha256 to a version: the recorded result of the binary's target (`bin:<binary>`, or what
 * `builtBy` names) first, then the binary cache's records.
 */
export function recordedVersionOf(records: Records, cacheRoot?: string, builtBy = (binary: string) => `bin:${binary}`): (binary: string, sha256: string) => string | undefined {
  const cache = new Map<string, { version: string; sha256: string }[]>();
  return (binary, sha256) => {
    const built = records.result(builtBy(binary));
    if (field(built, 'sha256') === sha256 && field(built, 'version')) return field(built, 'version');
    if (!cache.has(binary)) cache.set(binary, cachedVersions(binary, cacheRoot));
    return cache.get(binary)!.find((c) => c.sha256 === sha256)?.version;
  };
}

/** What each node of `nodes` runs, by component, as far as the records say (a node never built has no entry). */
export function runningComponents(nodes: readonly NodeSpec[], records: Records, versionOf: VersionOf): RunningComponents {
  const running: RunningComponents = {};
  for (const node of nodes) {
    const components: readonly Component[] = node.role === 'control-plane' ? CONTROL_PLANE_COMPONENTS : WORKER_COMPONENTS;
    const entry: Partial<Record<Component, string>> = {};
    for (const component of components) {
      const sha256 = field(records.result(`install:${node.name}:${component}`), 'sha256');
      const version = sha256 ? versionOf(component, sha256) : undefined;
      if (version) entry[component] = version;
    }
    if (Object.keys(entry).length) running[node.name] = entry;
  }
  return running;
}

/** Every version the cluster runs, once each. */
export function runningVersions(running: RunningComponents): string[] {
  return [...new Set(Object.values(running).flatMap((c) => Object.values(c)))].sort();
}

/** The nodes the records have Kubernetes binaries installed on, with the role those binaries say (before the spec is read). */
export function recordedNodes(names: readonly string[]): NodeSpec[] {
  const nodes = new Map<string, NodeSpec>();
  for (const name of names) {
    const match = /^install:([^:]+):(kube-apiserver|kubelet)$/.exec(name);
    if (match) nodes.set(match[1]!, { name: match[1]!, role: match[2] === 'kubelet' ? 'worker' : 'control-plane' });
  }
  return [...nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
}
