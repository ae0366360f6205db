// Order-only dependencies (Target.orderOnly): they build first and a failure among them skips the target,
// but their results are not part of the key, so adding, changing or dropping one rebuilds nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { graphDot } from '../../lib/engine/index.ts';
import { alias, target, type AnyTarget } from '../../lib/engine/target.ts';
import { build, tempProject, withOutcome } from '../fixtures/engine/helpers.ts';

/** `work` reads `input`; `gate` (present only when asked for) must run before it, order-only. */
function project(opts: { gate?: 'ok' | 'fails'; gateValue?: string; jobs?: number } = {}) {
  const events: string[] = [];
  const input = target({ name: 'input', description: 'a value', deps: {}, inputs: { values: { v: 1 } }, build: async () => 'in' });
  const gate = target({
    name: 'gate',
    description: 'runs before work when present',
    deps: {},
    inputs: { values: { v: opts.gateValue ?? 'a' } },
    build: async () => {
      events.push('gate start');
      await new Promise((r) => setTimeout(r, 30));
      if (opts.gate === 'fails') throw new Error('gate refused');
      events.push('gate end');
      return opts.gateValue ?? 'a';
    },
  });
  const work = target({
    name: 'work',
    description: 'reads input',
    deps: { input },
    ...(opts.gate ? { orderOnly: { gate } } : {}),
    build: async (ctx) => {
      events.push(`work start (deps: ${Object.keys(ctx.deps).join(',')})`);
      return `${ctx.deps.input}!`;
    },
  });
  const targets: AnyTarget[] = [input, work, ...(opts.gate ? [gate] : []), alias('all', 'everything', [work, ...(opts.gate ? [gate] : [])])];
  return { events, targets };
}

test('an order-only dependency builds first, even with jobs to spare, and is not handed to the build', async () => {
  const root = tempProject('order-only');
  const p = project({ gate: 'ok' });
  const report = await build(root, { targets: p.targets, requested: ['all'], jobs: 4 });
  assert.ok(report.ok);
  assert.equal(p.events, ['gate start', 'gate end', 'work start (deps: input)']);
});

test('adding an order-only dependency, changing its result or dropping it leaves the target up to date', async () => {
  const root = tempProject('order-only');
  await build(root, { targets: project().targets, requested: ['all'] });
  const added = await build(root, { targets: project({ gate: 'ok' }).targets, requested: ['all'] });
  assert.equal(withOutcome(added, 'built'), ['gate']);
  assert.is(added.entries.work!.outcome, 'up-to-date');
  const changed = await build(root, { targets: project({ gate: 'ok', gateValue: 'b' }).targets, requested: ['all'] });
  assert.equal(withOutcome(changed, 'built'), ['gate']);
  assert.is(changed.entries.work!.outcome, 'up-to-date');
  const dropped = await build(root, { targets: project().targets, requested: ['all'] });
  assert.equal(withOutcome(dropped, 'built'), []);
});

test('a failed order-only dependency skips the target, naming it', async () => {
  const root = tempProject('order-only');
  const p = project({ gate: 'fails' });
  const report = await build(root, { targets: p.targets, requested: ['work'] });
  assert.not.ok(report.ok);
  assert.is(report.entries.work!.outcome, 'skipped');
  assert.is(report.entries.work!.reason, 'dependency gate failed');
  assert.equal(p.events, ['gate start']);
});

test('requesting the target pulls its order-only dependency into the run', async () => {
  const root = tempProject('order-only');
  const report = await build(root, { targets: project({ gate: 'ok' }).targets, requested: ['work'] });
  assert.equal(withOutcome(report, 'built'), ['gate', 'input', 'work']);
});

test('dry run: an order-only dependency that would build does not make the target would-build', async () => {
  const root = tempProject('order-only');
  await build(root, { targets: project().targets, requested: ['all'] });
  const dry = await build(root, { targets: project({ gate: 'ok' }).targets, requested: ['all'], dryRun: true });
  assert.equal(withOutcome(dry, 'would-build'), ['gate']);
  assert.is(dry.entries.work!.outcome, 'up-to-date');
});

test('--graph draws an order-only edge dashed', () => {
  const dot = graphDot(project({ gate: 'ok' }).targets, ['all']);
  assert.match(dot, /"gate" -> "work" \[style=dashed\];/);
  assert.match(dot, /"input" -> "work";/);
});

test.run();
