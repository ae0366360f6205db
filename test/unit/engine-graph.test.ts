// Bad graphs and bad builds (one clear message each), the failure policy with and without keep-going,
// and a shuffled-order stress test that catches undeclared dependencies.

import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidGraphError } from '../../lib/engine/index.ts';
import { alias, target, type AnyTarget } from '../../lib/engine/target.ts';
import { StepError } from '../../lib/errors.ts';
import { build, tempProject, withOutcome } from '../fixtures/engine/helpers.ts';

const leaf = (name: string, deps: Record<string, AnyTarget> = {}): AnyTarget => target({ name, description: name, deps, build: async () => name });

async function problems(targets: AnyTarget[], requested: string[]): Promise<string[]> {
  try {
    await build(tempProject('graph'), { targets, requested });
  } catch (error) {
    assert.instance(error, InvalidGraphError);
    return (error as InvalidGraphError).problems.map((p) => `${p.kind}: ${p.message}${p.hint ? ` | ${p.hint}` : ''}`);
  }
  throw new Error('expected an InvalidGraphError');
}

test('cycles are printed a → b → a, with all other problems at once', async () => {
  const a = { name: 'a', description: 'a', deps: {} as Record<string, AnyTarget>, build: async () => 1 };
  const b = leaf('b', { a });
  a.deps.b = b;
  const found = await problems([a, b, leaf('c'), leaf('c')], ['a']);
  assert.equal(found, [
    'duplicate-target: two targets are named c | target names must be unique; rename one, or register the target once',
    'cycle: dependency cycle: a → b → a | a target cannot depend on itself, even indirectly; remove one of these dependencies',
  ]);
});

test('a self-dependency and a longer cycle', async () => {
  const s = { name: 'self', description: '', deps: {} as Record<string, AnyTarget>, build: async () => 1 };
  s.deps.me = s;
  assert.equal((await problems([s], ['self']))[0], 'cycle: dependency cycle: self → self | a target cannot depend on itself, even indirectly; remove one of these dependencies');
  const x = { name: 'x', description: '', deps: {} as Record<string, AnyTarget>, build: async () => 1 };
  const y = leaf('y', { x });
  const z = leaf('z', { y });
  x.deps.z = z;
  assert.match((await problems([x, y, z], ['x']))[0]!, 'dependency cycle: x → z → y → x');
});

test('unknown dependency, a different object under a registered name, unknown requested target', async () => {
  const ca = leaf('pki:ca');
  const admin = leaf('pki:admin', { ca });
  assert.equal(await problems([admin], ['pki:admin']), ['unknown-dependency: pki:admin depends on pki:ca (as "ca"), which is not registered | add pki:ca to the project\'s target list']);
  const twin = leaf('pki:ca');
  const user = leaf('pki:user', { ca: twin });
  assert.match((await problems([ca, user], ['pki:user']))[0]!, 'depends on a target named pki:ca that is a different object from the registered pki:ca');
  assert.equal(await problems([ca, admin], ['pki:cq']), ['unknown-target: unknown target pki:cq | did you mean pki:ca?']);
  assert.equal(await problems([ca, admin], ['bad name']), ['unknown-target: unknown target bad name | run with --help to list the targets']);
  assert.match((await problems([leaf('has space')], ['x']))[0]!, 'bad-target: target name "has space" is not valid');
  const escaping = target({ name: 'esc', description: '', deps: {}, outputs: ['../etc/passwd'], build: async () => 1 });
  assert.equal(await problems([escaping], ['esc']), ['bad-target: esc: output "../etc/passwd" must be a path inside the project (relative, no "..") | declare outputs relative to the project root, e.g. output/pki/ca.pem']);
});

test('a glob in inputs.files is a graph error naming the target and the pattern; nothing builds', async () => {
  const built: string[] = [];
  const globbing = target({ name: 'certs:csr', description: '', deps: {}, inputs: { files: ['seed.txt', 'csr/*.json'] }, build: async () => (built.push('certs:csr'), 1) });
  const other = target({ name: 'other', description: '', deps: {}, inputs: { files: ['a?.txt', 'b[12].txt'] }, build: async () => (built.push('other'), 2) });
  const hint = 'list each file by its path relative to the project root (no *, ? or [)';
  assert.equal(await problems([globbing, other, leaf('fine')], ['fine']), [
    `bad-target: certs:csr: input "csr/*.json" is a glob, and inputs.files does not expand globs | ${hint}`,
    `bad-target: other: input "a?.txt" is a glob, and inputs.files does not expand globs | ${hint}`,
    `bad-target: other: input "b[12].txt" is a glob, and inputs.files does not expand globs | ${hint}`,
  ]);
  assert.equal(built, []);
});

test('a group name builds every target of the group', async () => {
  const root = tempProject('group');
  const report = await build(root, { targets: [leaf('pki:ca'), leaf('pki:admin'), leaf('net:plan')], requested: ['pki'] });
  assert.equal(Object.keys(report.entries).sort(), ['pki:admin', 'pki:ca']);
});

test('bad builds: thrown error (with hint), non-JSON result, missing input, missing output', async () => {
  const root = tempProject('bad');
  class HelpfulError extends StepError {
    constructor(message: string) {
      super(message, 'start dockerd');
    }
  }
  const targets: AnyTarget[] = [
    target({ name: 'throws', description: '', deps: {}, build: async (): Promise<number> => { throw new HelpfulError('docker socket not found'); } }),
    target({ name: 'date', description: '', deps: {}, build: async () => ({ when: new Date(0) }) as unknown as number }),
    target({ name: 'noinput', description: '', deps: {}, inputs: { files: ['csr/missing.json'] }, build: async () => 1 }),
    target({ name: 'nooutput', description: '', deps: {}, outputs: ['out/never.txt'], build: async () => 1 }),
  ];
  const report = await build(root, { targets, requested: ['throws', 'date', 'noinput', 'nooutput'], keepGoing: true });
  assert.not.ok(report.ok);
  const byTarget = Object.fromEntries(report.failures.map((f) => [f.target, `${f.kind}: ${f.message} | ${f.hint}`]));
  assert.equal(byTarget, {
    throws: 'build-failed: docker socket not found | start dockerd',
    date: 'bad-result: the build returned a value that is not JSON: result.when is a Date (only plain objects, arrays, strings, numbers, booleans and null are JSON) | results are stored and compared as JSON; return plain data',
    noinput: `missing-input: input file csr/missing.json does not exist | create csr/missing.json, or fix inputs.files of noinput (paths are relative to ${root})`,
    nooutput: 'missing-output: the build did not write out/never.txt, which it declares in outputs | write out/never.txt in the build, or remove it from outputs',
  });
});

/** a fails after 50ms; slow runs 2s unless aborted; independent chain c1 → c2; d depends on a. */
function failureGraph(log: string[]): AnyTarget[] {
  const a = target({ name: 'a', description: '', deps: {}, build: async (): Promise<number> => { await sleep(50); log.push('a failed'); throw new Error('a broke'); } });
  const slow = target({
    name: 'slow', description: '', deps: {},
    build: async (ctx) => {
      try {
        await sleep(2000, undefined, { signal: ctx.signal });
      } catch (error) {
        log.push('slow aborted');
        throw error;
      }
      return 'slow';
    },
  });
  const d = target({ name: 'd', description: '', deps: { a }, build: async () => 'd' });
  const c1 = target({ name: 'c1', description: '', deps: { slow }, build: async () => { log.push('c1'); return 1; } });
  const c2 = target({ name: 'c2', description: '', deps: { c1 }, build: async () => { log.push('c2'); return 2; } });
  const e = target({ name: 'e', description: '', deps: {}, build: async () => { await sleep(100); log.push('e'); return 'e'; } });
  return [a, slow, d, c1, c2, e, alias('all', '', [d, c2, e])];
}

test('first failure: no new targets start, running ones are aborted, every failure reported', async () => {
  const log: string[] = [];
  const started = Date.now();
  const report = await build(tempProject('fail'), { targets: failureGraph(log), requested: ['all'], jobs: 3 });
  assert.ok(Date.now() - started < 1500, 'the slow build was aborted, not awaited');
  assert.not.ok(report.ok);
  assert.equal(report.failures.map((f) => f.target), ['a']);
  assert.ok(log.includes('slow aborted'));
  assert.not.ok(log.includes('c1'));
  assert.is(report.entries.slow!.outcome, 'cancelled');
  assert.is(report.entries.slow!.reason, 'stopped after a failed');
  assert.is(report.entries.d!.outcome, 'skipped');
  assert.is(report.entries.d!.reason, 'dependency a failed');
  assert.is(report.entries.c2!.outcome, 'cancelled');
  // e was running and ignores the signal: it finishes and its good result is kept.
  assert.is(report.entries.e!.outcome, 'built');
});

test('--keep-going builds everything that does not depend on a failure and reports all failures', async () => {
  const log: string[] = [];
  const targets = failureGraph(log);
  targets.push(target({ name: 'b', description: '', deps: {}, build: async (): Promise<number> => { throw new Error('b broke too'); } }));
  targets.push(alias('more', '', [targets[6]!, targets[7]!]));
  const report = await build(tempProject('keep'), { targets, requested: ['more'], jobs: 2, keepGoing: true });
  assert.equal(report.failures.map((f) => f.target).sort(), ['a', 'b']);
  assert.equal(withOutcome(report, 'built'), ['c1', 'c2', 'e', 'slow']);
  assert.equal(withOutcome(report, 'skipped'), ['d']);
});

test('an external abort (SIGINT) cancels the run', async () => {
  const log: string[] = [];
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 30);
  const report = await build(tempProject('abort'), { targets: failureGraph(log).filter((t) => ['slow', 'c1', 'c2'].includes(t.name)), requested: ['c2'], signal: controller.signal });
  assert.not.ok(report.ok);
  assert.is(report.failures.length, 0);
  assert.is(report.entries.slow!.outcome, 'cancelled');
  assert.is(report.entries.slow!.reason, 'interrupted');
});

test('--jobs limits builds, not probes: a no-op run probes in parallel', async () => {
  const root = tempProject('slots');
  let running = 0;
  let most = 0;
  let probing = 0;
  let mostProbing = 0;
  const targets: AnyTarget[] = Array.from({ length: 12 }, (_, i) =>
    target({
      name: `p:${i}`, description: '', deps: {},
      probe: async () => {
        probing++;
        mostProbing = Math.max(mostProbing, probing);
        await sleep(60);
        probing--;
        return undefined;
      },
      build: async () => {
        running++;
        most = Math.max(most, running);
        await sleep(10);
        running--;
        return i;
      },
    }),
  );
  await build(root, { targets, requested: ['p'], jobs: 3 });
  assert.is(most, 3, 'never more builds than --jobs');
  const started = Date.now();
  const noop = await build(root, { targets, requested: ['p'], jobs: 1 });
  assert.ok(noop.ok);
  assert.ok(mostProbing >= 8, `probes ran ${mostProbing} at once`);
  assert.ok(Date.now() - started < 400, 'twelve 60ms probes did not wait for one job slot each');
});

/** A chain a → b → c whose probes take 80ms each and report `stale[name]` when set. */
const probes = { count: 0 };
function probedChain(stale: Record<string, string | undefined>, results: Record<string, number>, built: string[]): AnyTarget[] {
  const make = (name: string, deps: Record<string, AnyTarget>): AnyTarget =>
    target({
      name, description: name, deps,
      probe: async () => {
        probes.count++;
        await sleep(80);
        return stale[name];
      },
      build: async () => {
        built.push(name);
        return results[name] ?? 0;
      },
    });
  const a = make('a', {});
  const b = make('b', { a });
  const c = make('c', { b });
  return [a, b, c];
}

test('probes along a chain run at once; a failed probe re-decides what was assumed downstream', async () => {
  const root = tempProject('speculate');
  const built: string[] = [];
  await build(root, { targets: probedChain({}, {}, built), requested: ['c'] });
  assert.equal(built, ['a', 'b', 'c']);
  built.length = 0;
  let started = Date.now();
  const noop = await build(root, { targets: probedChain({}, {}, built), requested: ['c'], jobs: 1 });
  assert.equal(withOutcome(noop, 'up-to-date'), ['a', 'b', 'c']);
  assert.ok(Date.now() - started < 200, `three 80ms probes in a chain took ${Date.now() - started}ms`);
  // a's probe fails and a rebuilds to the same result: b and c stand (early cutoff).
  const probesBefore = probes.count;
  const same = await build(root, { targets: probedChain({ a: 'container gone' }, {}, built), requested: ['c'] });
  assert.equal(built, ['a']);
  // b was probed early, then again after a rebuilt (a rebuild may disturb what b's probe looks at).
  assert.is(probes.count - probesBefore, 4);
  assert.is(same.entries.a!.reason, 'probe: container gone');
  assert.equal(withOutcome(same, 'up-to-date'), ['b', 'c']);
  // a rebuilds to a new result: the speculation about b is dropped and b rebuilds; c's result is the same.
  built.length = 0;
  const changed = await build(root, { targets: probedChain({ a: 'gone again' }, { a: 1 }, built), requested: ['c'] });
  assert.equal(built, ['a', 'b']);
  assert.is(changed.entries.b!.reason, 'dependency a has a new result');
  assert.is(changed.entries.c!.outcome, 'up-to-date');
  // Dry run: a dependent of a probe that fails says it would rebuild because of it.
  started = Date.now();
  const dry = await build(root, { targets: probedChain({ b: 'file edited on the node' }, { a: 1 }, built), requested: ['c'], dryRun: true });
  assert.is(dry.entries.a!.outcome, 'up-to-date');
  assert.is(dry.entries.b!.reason, 'probe: file edited on the node');
  assert.is(dry.entries.c!.reason, 'dependency b would rebuild');
});

/** Deterministic pseudo-random numbers, so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

test('shuffled order, random jobs and timings: every dependency always finishes before its dependents', async () => {
  for (let round = 0; round < 25; round++) {
    const random = rng(round + 1);
    const finished = new Set<string>();
    const violations: string[] = [];
    const all: AnyTarget[] = [];
    for (let i = 0; i < 40; i++) {
      const deps: Record<string, AnyTarget> = {};
      for (let k = 0; k < 3 && all.length; k++) {
        const dep = all[Math.floor(random() * all.length)]!;
        deps[dep.name] = dep;
      }
      const pause = Math.floor(random() * 3);
      const name = `t${i}`;
      all.push(
        target({
          name, description: name, deps, inputs: { values: { round } },
          build: async (ctx) => {
            for (const dep of Object.keys(deps)) if (!finished.has(dep)) violations.push(`${name} started before ${dep} finished`);
            assert.equal(Object.keys(ctx.deps).sort(), Object.keys(deps).sort());
            if (pause) await sleep(pause);
            finished.add(name);
            return i;
          },
        }),
      );
    }
    // Register in a shuffled order: the engine must not depend on registration order.
    const shuffled = [...all].sort(() => random() - 0.5);
    const report = await build(tempProject('shuffle'), { targets: shuffled, requested: shuffled.slice(0, 5).map((t) => t.name), jobs: 1 + Math.floor(random() * 8) });
    assert.ok(report.ok, `round ${round}`);
    assert.equal(violations, [], `round ${round}`);
  }
});

test.run();
