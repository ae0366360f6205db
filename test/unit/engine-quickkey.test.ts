// The no-op fast path's key (quickKey in lib/engine/executor.ts) writes out by hand the very text
// keyOf() hashes from a target's manifest (manifestOf). On random target definitions and inputs (files, env,
// values, dependencies, version, outputs; unsorted, repeated, unicode, keys that sort oddly) the two must
// agree: quickKey either declines (undefined: the general path decides) or gives keyOf's key. A wrong
// quickKey would call a changed target up to date, or rebuild an unchanged one.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { keyOf, manifestOf, quickKey, type KeyInputs } from '../../lib/engine/executor.ts';
import { StatCache } from '../../lib/engine/stat-cache.ts';
import type { AnyTarget, Json } from '../../lib/engine/target.ts';
import { random, runSeed, type Random } from '../lib/random.ts';
import { tempProject, write } from '../fixtures/engine/helpers.ts';

/** What the executor's Run hands the key functions: input files' hashes through the stat cache, result hashes. */
type Inputs = KeyInputs & { resultHashes: Map<string, string> };

/**
 * Files of the project: names that sort differently by code unit and by locale, spaces, unicode, a digit
 * first, names that are array indices ('2', '10': JSON.stringify puts such object keys first, in numeric
 * order, whatever order they were added in). (No glob: the graph refuses them in inputs.files.)
 */
const FILES = ['a.txt', 'B.txt', 'b.txt', 'dir/c.json', 'dir/sub/d.yaml', 'é.txt', 'space name.txt', '_u.txt', '-dash.txt', 'x"quote.txt', '1digit.txt', '2', '10'];
/** What the fast path is for: no name starting with a digit. */
const plainName = (name: string) => !/^\d/.test(name);
/** Paths naming those files in other spellings, and files that do not exist. */
const OTHER_PATTERNS = ['./a.txt', 'dir//c.json', 'dir/../b.txt', 'missing.txt'];
const ENV = ['HARDER_QK_A', 'HARDER_QK_b', 'HARDER_QK_Z', 'HARDER_QK_é', 'HARDER_QK_unset', '1HARDER_QK', '7', '12'];
const ENV_VALUES = ['', 'x', 'with space', '"quoted"', 'back\\slash', 'line\nbreak', 'é🎉', '{"json":1}'];
const ALIASES = ['a', 'B', 'b', 'ca', '_x', 'é', 'z z', 'dep-1', '1num', '2', '10'];
const NAMES = ['g:in', 'pki:ca', 'kubeconfig:kubelet:worker-1', 'a/b=c', 'x@y+z', 'cluster:ready:node-1:kubelet'];
const VERSIONS: (number | undefined)[] = [undefined, 0, 1, 2, -1, 2.5, 1e21, 0.1 + 0.2];
const KEYS = ['a', 'B', 'z', '1', '10', '2', 'é', '', 'with space', '__proto__x', 'nodes'];

function shuffled<T>(r: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function subset<T>(r: Random, items: readonly T[], max: number): T[] {
  return Array.from({ length: r.int(0, max) }, () => r.pick(items));
}

function randomJson(r: Random, depth: number): Json {
  const kind = r.int(0, depth >= 3 ? 3 : 5);
  if (kind === 0) return r.pick(['', 'x', 'é🎉', '"q"', 'line\nbreak', '1']);
  if (kind === 1) return r.pick([0, -1, 2.5, 1e21, 123456789, -0.125]);
  if (kind === 2) return r.chance(0.5);
  if (kind === 3) return null;
  if (kind === 4) return Array.from({ length: r.int(0, 3) }, () => randomJson(r, depth + 1));
  const out: Record<string, Json> = {};
  for (const key of shuffled(r, subset(r, KEYS, 4))) out[key] = randomJson(r, depth + 1);
  return out;
}

type Case = { t: AnyTarget; edges: [string, string][]; results: Map<string, string | undefined> };

/** A random target definition and the results of its dependencies. `plain`: only what the fast path takes. */
function randomCase(r: Random, plain: boolean): Case {
  const files = plain ? subset(r, FILES.filter(plainName), 5) : subset(r, [...FILES, ...OTHER_PATTERNS], 5);
  const env = plain ? subset(r, ENV.filter(plainName), 4) : subset(r, ENV, 4);
  const values: Record<string, Json> = {};
  for (const key of shuffled(r, subset(r, plain ? KEYS : [...KEYS, 'notJson'], 4))) values[key] = randomJson(r, 0);
  const aliases = [...new Set(subset(r, plain ? ALIASES.filter(plainName) : ALIASES, 4))];
  const edges: [string, string][] = aliases.map((alias, i) => [alias, `dep:${i}`]);
  const results = new Map(edges.map(([, dep]) => [dep, r.chance(0.9) ? `${r.int(0, 1e9).toString(16)}abc` : undefined]));
  const inputs: Record<string, unknown> = {};
  if (files.length || r.chance(0.5)) inputs.files = files;
  if (env.length || r.chance(0.5)) inputs.env = env;
  if (Object.keys(values).length || r.chance(0.5)) inputs.values = values;
  // A value JSON cannot hold: manifestOf refuses it, so quickKey must decline too.
  if ('notJson' in values && r.chance(0.5)) values.notJson = Number.NaN as unknown as Json;
  const t: AnyTarget = {
    name: r.pick(NAMES),
    description: 'random',
    deps: {},
    inputs: r.chance(0.1) ? undefined : (inputs as AnyTarget['inputs']),
    version: plain ? r.pick(VERSIONS) : r.chance(0.1) ? Number.NaN : r.pick(VERSIONS),
    outputs: r.chance(0.2) ? undefined : subset(r, ['out/a', 'out/B', 'out/é', 'out/1', 'out/a'], 3),
    build: async () => null,
  };
  return { t, edges, results };
}

/** The same definition written in another order: files, env names, value keys and dependencies shuffled. */
function reordered(r: Random, c: Case): Case {
  const inputs = c.t.inputs;
  const values = inputs?.values ? Object.fromEntries(shuffled(r, Object.entries(inputs.values))) : undefined;
  const t: AnyTarget = {
    ...c.t,
    inputs: inputs && { ...inputs, ...(inputs.files && { files: shuffled(r, inputs.files) }), ...(inputs.env && { env: shuffled(r, inputs.env) }), ...(values && { values }) },
  };
  return { t, edges: shuffled(r, c.edges), results: c.results };
}

/** A project with the files (random content), env set at random, and key inputs over it. */
function project(r: Random): Inputs {
  const root = tempProject('quickkey');
  for (const f of FILES) write(root, f, `${f} ${r.int(0, 3)}`);
  for (const name of ENV) {
    if (name === 'HARDER_QK_unset' || r.chance(0.2)) delete process.env[name];
    else process.env[name] = r.pick(ENV_VALUES);
  }
  const stats = new StatCache(join(root, 'output', '.harder', 'stat-cache.tsv'));
  return { root, fileHash: (file) => stats.stamp(join(root, file))?.hash, resultHashes: new Map() };
}

/** quickKey's answer and keyOf's (or the error manifestOf raised) for one case. */
function keys(run: Inputs, c: Case): { quick: string | undefined; full: string | Error } {
  run.resultHashes.clear();
  for (const [dep, hash] of c.results) if (hash !== undefined) run.resultHashes.set(dep, hash);
  let full: string | Error;
  try {
    full = keyOf(c.t.name, manifestOf(run, c.t, c.edges));
  } catch (error) {
    full = error as Error;
  }
  return { quick: quickKey(run, c.t, c.edges), full };
}

const describe = (c: Case) => JSON.stringify({ name: c.t.name, version: c.t.version ?? null, inputs: c.t.inputs ?? null, outputs: c.t.outputs ?? null, edges: c.edges, results: [...c.results] });

test('quickKey agrees with keyOf on random definitions, or declines', async () => {
  const seed = runSeed();
  const r = random(seed);
  let agreed = 0;
  const total = 25 * 40;
  for (let p = 0; p < 25; p++) {
    const run = project(r);
    for (let i = 0; i < 40; i++) {
      const c = randomCase(r, false);
      const { quick, full } = keys(run, c);
      if (quick === undefined) continue;
      assert.ok(typeof full === 'string', `seed ${seed}: quickKey gave a key where manifestOf refused (${full}): ${describe(c)}`);
      assert.is(quick, full, `seed ${seed}: ${describe(c)}`);
      agreed++;
    }
  }
  // Declining is always safe; a quickKey that always declined would pass the loop above and prove nothing.
  assert.ok(agreed > total / 10, `seed ${seed}: quickKey gave a key in only ${agreed} of ${total} cases`);
});

test('on definitions the fast path is for, quickKey always answers, whatever order they are written in', async () => {
  const seed = runSeed();
  const r = random(seed);
  for (let p = 0; p < 15; p++) {
    const run = project(r);
    for (let i = 0; i < 50; i++) {
      const c = randomCase(r, true);
      const { quick, full } = keys(run, c);
      assert.ok(typeof full === 'string', `seed ${seed}: manifestOf refused a plain case (${full}): ${describe(c)}`);
      assert.is(quick, full, `seed ${seed}: ${describe(c)}`);
      // The key is of the content, not of the order it was declared in.
      const other = reordered(r, c);
      assert.equal(keys(run, other), { quick: full, full }, `seed ${seed}: reordered ${describe(other)}`);
    }
  }
});

test.run();
