// Run resources (lib/engine/resources.ts): one value per run, made on first ctx.use by builds, probes and
// clean()s alike, handed the run's targets, disposed when the run ends; a provided value replaces create
// and is not disposed; a run that uses none makes none.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanTargets } from '../../lib/engine/index.ts';
import { provide, runResource, type RunInfo } from '../../lib/engine/resources.ts';
import { target, type AnyTarget } from '../../lib/engine/target.ts';
import { build, tempProject, withOutcome } from '../fixtures/engine/helpers.ts';

type Counter = { id: number; uses: string[]; disposed: boolean };

/** A resource that counts what it made and what used it. */
function counting() {
  const made: Counter[] = [];
  const runs: RunInfo[] = [];
  const resource = runResource<Counter>({
    name: 'counter',
    create: (run) => {
      runs.push(run);
      const value = { id: made.length + 1, uses: [], disposed: false };
      made.push(value);
      return value;
    },
    dispose: (value) => void (value.disposed = true),
  });
  return { resource, made, runs };
}

function graph(resource: ReturnType<typeof counting>['resource'], probeSays: () => string | undefined = () => undefined) {
  const a = target({
    name: 'r:a',
    description: 'uses the resource in build and probe',
    deps: {},
    build: async (ctx) => {
      resource.of(ctx).uses.push('build a');
      return 'a';
    },
    probe: async (_result, ctx) => {
      resource.of(ctx).uses.push('probe a');
      return probeSays();
    },
    clean: async (_result, ctx) => void resource.of(ctx).uses.push('clean a'),
  });
  const b = target({
    name: 'r:b',
    description: 'uses it too',
    deps: { a },
    build: async (ctx) => {
      resource.of(ctx).uses.push(`build b after ${ctx.deps.a}`);
      return 'b';
    },
  });
  const plain = target({ name: 'p:plain', description: 'uses nothing', deps: {}, build: async () => 'plain' });
  return { targets: [a, b, plain] as AnyTarget[], a, b, plain };
}

test('one value per run, shared by its builds, made with the run’s targets, disposed at the end', async () => {
  const root = tempProject('resources');
  const c = counting();
  const { targets } = graph(c.resource);
  const report = await build(root, { targets, requested: ['r:b'] });
  assert.ok(report.ok);
  assert.is(c.made.length, 1);
  assert.equal(c.made[0]!.uses, ['build a', 'build b after a']);
  assert.is(c.made[0]!.disposed, true);
  assert.is(c.runs[0]!.targets, targets);
  assert.is(c.runs[0]!.root, root);
});

test('each run makes its own; probes get it too; a run that uses none makes none', async () => {
  const root = tempProject('resources');
  const c = counting();
  const { targets } = graph(c.resource);
  await build(root, { targets, requested: ['r:b'] });
  const noop = await build(root, { targets, requested: ['r:b'] });
  assert.equal(withOutcome(noop, 'up-to-date'), ['r:a', 'r:b']);
  assert.is(c.made.length, 2);
  assert.equal(c.made[1]!.uses, ['probe a']);
  assert.is(c.made[1]!.disposed, true);
  await build(root, { targets, requested: ['p:plain'] });
  assert.is(c.made.length, 2, 'nothing used it: nothing made');
});

test('a provided value replaces create and is left to its owner', async () => {
  const root = tempProject('resources');
  const c = counting();
  const { targets } = graph(c.resource);
  const mine: Counter = { id: 99, uses: [], disposed: false };
  const report = await build(root, { targets, requested: ['r:b'], resources: [provide(c.resource, mine)] });
  assert.ok(report.ok);
  assert.is(c.made.length, 0);
  assert.equal(mine.uses, ['build a', 'build b after a']);
  assert.is(mine.disposed, false);
});

test('a failing probe, a dry run and a clean all see the run’s value; disposed once each', async () => {
  const root = tempProject('resources');
  const c = counting();
  const { targets } = graph(c.resource, () => 'gone');
  await build(root, { targets, requested: ['r:a'] });
  const dry = await build(root, { targets, requested: ['r:a'], dryRun: true });
  assert.is(dry.entries['r:a']!.reason, 'probe: gone');
  assert.equal(c.made[1]!.uses, ['probe a']);
  const rebuilt = await build(root, { targets, requested: ['r:a'] });
  assert.equal(withOutcome(rebuilt, 'built'), ['r:a']);
  assert.equal(c.made[2]!.uses, ['probe a', 'build a'], 'probe and the build it caused share one value');
  const cleaned = await cleanTargets({ targets, requested: ['r:a'], root });
  assert.ok(cleaned.ok);
  assert.equal(c.made[3]!.uses, ['clean a']);
  assert.ok(c.made.every((v) => v.disposed));
});

test('a context made by hand (no use) says so instead of a TypeError', () => {
  const c = counting();
  assert.throws(() => c.resource.of({}), /run resource counter: this context has no use\(\)/);
});

test.run();
