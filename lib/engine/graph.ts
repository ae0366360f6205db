// Graph validation and resolution: checks the whole registry (duplicate names, unknown dependencies,
// cycles, malformed targets) collecting every problem, then resolves requested names (target, alias or
// group) to the set of targets to run, in dependency order.

import { groupOf, type AnyTarget, type Pool } from './target.ts';
import { EngineError, InvalidGraphError } from './errors.ts';
import { suggest } from './suggest.ts';

/** The validated registry. Dependency edges are by name; `deps` keeps each target's aliases. */
export type Graph = {
  byName: Map<string, AnyTarget>;
  /** name → [alias, dependency name] in declaration order: every edge, order-only ones last (their alias `order-only:<alias>`). */
  deps: Map<string, [string, string][]>;
  /** name → the edges whose results the target reads and its key covers: `deps` without the order-only edges (the same array when it has none). */
  keyDeps: Map<string, [string, string][]>;
  /** name → names of the targets that depend on it. */
  dependents: Map<string, string[]>;
  /** group → member names, in registration order. */
  groups: Map<string, string[]>;
  /** Registration order, used to keep outputs deterministic. */
  order: string[];
};

/** The alias prefix of an order-only edge in `Graph.deps`. */
export const ORDER_ONLY = 'order-only:';

const NAME = /^[A-Za-z0-9_.@+-][A-Za-z0-9_.@+:/=-]*$/;
/** Characters that would make an input path read as a glob pattern. */
const GLOB = /[*?[]/;

/** Validates the registry; throws InvalidGraphError listing all problems. */
export function buildGraph(targets: readonly AnyTarget[]): Graph {
  const problems: EngineError[] = [];
  const byName = new Map<string, AnyTarget>();
  const order: string[] = [];
  // One pool object per name (its depth is read from it), with the first target that named it.
  const pools = new Map<string, { pool: Pool; firstUser: string }>();
  for (const t of targets) {
    if (!t || typeof t !== 'object' || typeof t.name !== 'string') {
      problems.push(new EngineError('bad-target', `a registered target is not a target object (got ${t === null ? 'null' : typeof t})`, { hint: 'register objects made with target() or alias()' }));
      continue;
    }
    if (!NAME.test(t.name)) {
      problems.push(new EngineError('bad-target', `target name ${JSON.stringify(t.name)} is not valid`, { target: t.name, hint: 'use letters, digits and - _ . : / (a group prefix such as "certs:"), no spaces, not starting with ":" or "-"' }));
    }
    if (!t.deps || typeof t.deps !== 'object') {
      problems.push(new EngineError('bad-target', `${t.name}: deps must be an object of alias → target`, { target: t.name, hint: 'use deps: {} when it has no dependencies' }));
    }
    if (t.orderOnly !== undefined && (!t.orderOnly || typeof t.orderOnly !== 'object')) {
      problems.push(new EngineError('bad-target', `${t.name}: orderOnly must be an object of alias → target`, { target: t.name, hint: 'leave it out when the target has none' }));
    }
    for (const out of t.outputs ?? []) {
      // clean: deletes these paths, so they must stay inside the project.
      if (typeof out !== 'string' || out.startsWith('/') || (out.includes('..') && out.split('/').includes('..')) || out === '') {
        problems.push(new EngineError('bad-target', `${t.name}: output ${JSON.stringify(out)} must be a path inside the project (relative, no "..")`, { target: t.name, hint: 'declare outputs relative to the project root, e.g. output/pki/ca.pem' }));
      }
    }
    for (const file of t.inputs?.files ?? []) {
      // The engine hashes each named file; it expands no globs (no target needs one).
      if (typeof file === 'string' && GLOB.test(file)) {
        problems.push(new EngineError('bad-target', `${t.name}: input ${JSON.stringify(file)} is a glob, and inputs.files does not expand globs`, { target: t.name, hint: 'list each file by its path relative to the project root (no *, ? or [)' }));
      }
    }
    if (t.pool !== undefined) {
      const p = t.pool as Partial<Pool> | null;
      if (!p || typeof p !== 'object' || typeof p.name !== 'string' || !Number.isInteger(p.depth) || p.depth! < 1) {
        problems.push(new EngineError('bad-target', `${t.name}: pool must be made with pool(name, depth), depth a whole number of at least 1`, { target: t.name }));
      } else {
        const known = pools.get(p.name);
        if (!known) pools.set(p.name, { pool: t.pool, firstUser: t.name });
        else if (known.pool !== t.pool) {
          problems.push(new EngineError('bad-target', `${t.name}: its pool ${p.name} is a different object from the pool ${p.name} of ${known.firstUser}`, { target: t.name, hint: `create the pool once with pool() and give that object to every target in it` }));
        }
      }
    }
    if (t.build !== undefined && typeof t.build !== 'function') {
      problems.push(new EngineError('bad-target', `${t.name}: build must be an async function`, { target: t.name }));
    }
    if (byName.has(t.name)) {
      problems.push(new EngineError('duplicate-target', `two targets are named ${t.name}`, { target: t.name, hint: 'target names must be unique; rename one, or register the target once' }));
      continue;
    }
    byName.set(t.name, t);
    order.push(t.name);
  }
  const deps = new Map<string, [string, string][]>();
  const keyDeps = new Map<string, [string, string][]>();
  for (const name of order) {
    const t = byName.get(name)!;
    const edges: [string, string][] = [];
    const resolve = (declared: Record<string, AnyTarget | undefined>, prefix: string): void => {
      // for-in, not Object.entries: no [key, value] array per dependency (10,000 targets in a no-op run).
      for (const key in declared) {
        if (!Object.hasOwn(declared, key)) continue;
        const aliasName = `${prefix}${key}`;
        const dep = declared[key];
        if (!dep || typeof dep !== 'object' || typeof dep.name !== 'string') {
          problems.push(new EngineError('bad-target', `${name}: dependency "${aliasName}" is not a target object`, { target: name, hint: 'is the target it names defined before use (import order)?' }));
          continue;
        }
        const registered = byName.get(dep.name);
        if (!registered) {
          const close = suggest(dep.name, order);
          problems.push(new EngineError('unknown-dependency', `${name} depends on ${dep.name} (as "${aliasName}"), which is not registered`, {
            target: name,
            hint: `add ${dep.name} to the project's target list${close.length ? `; registered names close to it: ${close.join(', ')}` : ''}`,
          }));
          continue;
        }
        if (registered !== dep) {
          problems.push(new EngineError('duplicate-target', `${name} depends on a target named ${dep.name} that is a different object from the registered ${dep.name}`, {
            target: name,
            hint: `create ${dep.name} once and pass that object to both the registry and its dependents`,
          }));
          continue;
        }
        edges.push([aliasName, dep.name]);
      }
    };
    resolve((t.deps ?? {}) as Record<string, AnyTarget | undefined>, '');
    const keyed = edges.length;
    if (t.orderOnly && typeof t.orderOnly === 'object') resolve(t.orderOnly as Record<string, AnyTarget | undefined>, ORDER_ONLY);
    deps.set(name, edges);
    keyDeps.set(name, edges.length === keyed ? edges : edges.slice(0, keyed));
  }
  for (const cycle of findCycles(order, deps)) {
    problems.push(new EngineError('cycle', `dependency cycle: ${cycle.join(' → ')}`, { target: cycle[0], hint: 'a target cannot depend on itself, even indirectly; remove one of these dependencies' }));
  }
  if (problems.length) throw new InvalidGraphError(problems);
  // Dependents and groups are made on first use: a no-op build of one alias needs neither.
  let dependents: Map<string, string[]> | undefined;
  let groups: Map<string, string[]> | undefined;
  return {
    byName,
    deps,
    keyDeps,
    order,
    get dependents() {
      if (!dependents) {
        dependents = new Map(order.map((name) => [name, []]));
        for (const name of order) for (const [, dep] of deps.get(name)!) dependents.get(dep)!.push(name);
      }
      return dependents;
    },
    get groups() {
      if (!groups) {
        groups = new Map();
        for (const name of order) {
          const group = groupOf(name);
          const members = groups.get(group);
          if (members) members.push(name);
          else groups.set(group, [name]);
        }
      }
      return groups;
    },
  };
}

/** Each cycle found by depth-first search, as a path that starts and ends on the same name. */
function findCycles(order: string[], deps: Map<string, [string, string][]>): string[][] {
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
  const cycles: string[][] = [];
  // Iterative, so a 10,000-long chain cannot overflow the call stack.
  for (const start of order) {
    if (state.has(start)) continue;
    const path: string[] = [start];
    const edgesOf: [string, string][][] = [deps.get(start) ?? []];
    const next: number[] = [0];
    state.set(start, 1);
    while (path.length) {
      const top = path.length - 1;
      const edges = edgesOf[top]!;
      const i = next[top]!;
      if (i < edges.length) {
        next[top] = i + 1;
        const dep = edges[i]![1];
        const s = state.get(dep);
        if (s === 1) cycles.push([...path.slice(path.indexOf(dep)), dep]);
        else if (s === undefined) {
          state.set(dep, 1);
          path.push(dep);
          edgesOf.push(deps.get(dep) ?? []);
          next.push(0);
        }
      } else {
        state.set(path[top]!, 2);
        path.pop();
        edgesOf.pop();
        next.pop();
      }
    }
  }
  return cycles;
}

/**
 * The targets a requested name stands for: the target of that name; otherwise every target of the
 * group of that name. Undefined when it is neither.
 */
export function membersOf(graph: Graph, requested: string): string[] | undefined {
  if (graph.byName.has(requested)) return [requested];
  return graph.groups.get(requested);
}

/** Throws InvalidGraphError (unknown-target, with suggestions) for each name that resolves to nothing. */
export function checkRequested(graph: Graph, requested: readonly string[]): void {
  const problems: EngineError[] = [];
  for (const name of requested) {
    if (membersOf(graph, name)) continue;
    const close = suggest(name, [...graph.order, ...[...graph.groups.keys()].filter((g) => !graph.byName.has(g))]);
    problems.push(new EngineError('unknown-target', `unknown target ${name}`, {
      target: name,
      hint: close.length ? `did you mean ${close.join(', ')}?` : 'run with --help to list the targets',
    }));
  }
  if (problems.length) throw new InvalidGraphError(problems);
}

/**
 * What `--force` forces for a requested name: the named target itself; for an alias (a target without
 * build) or a group, its members, recursively through aliases, except those marked precious.
 */
export function forcedMembers(graph: Graph, requested: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (name: string, explicit: boolean): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const t = graph.byName.get(name)!;
    if (!t.build) {
      for (const [, dep] of graph.deps.get(name)!) add(dep, false);
      return;
    }
    if (explicit || !t.precious) out.push(name);
  };
  if (graph.byName.has(requested)) add(requested, true);
  else for (const member of graph.groups.get(requested) ?? []) add(member, false);
  return out;
}

/** The requested targets and everything they depend on, in a dependency-first order. */
export function closure(graph: Graph, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  // Iterative DFS: a 10,000-long chain must not overflow the call stack.
  // Two parallel stacks (name, next edge) rather than a [name, index] pair per visited target.
  const names: string[] = [];
  const next: number[] = [];
  for (const root of roots) {
    if (seen.has(root)) continue;
    seen.add(root);
    names.push(root);
    next.push(0);
    while (names.length) {
      const top = names.length - 1;
      const edges = graph.deps.get(names[top]!)!;
      const i = next[top]!;
      if (i < edges.length) {
        next[top] = i + 1;
        const dep = edges[i]![1];
        if (!seen.has(dep)) {
          seen.add(dep);
          names.push(dep);
          next.push(0);
        }
      } else {
        out.push(names.pop()!);
        next.pop();
      }
    }
  }
  return out;
}
