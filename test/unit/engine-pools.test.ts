// Pools (Target.pool, ninja's pools) and the order in which waiting builds get slots: a pool's builds
// never overlap beyond its depth, one waiting for its pool holds no job slot, and builds that become
// ready together start by priority (the longest chain of dependents first), not by registration order.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildGraph, InvalidGraphError, pool } from '../../lib/engine/index.ts';
import { alias, target, type AnyTarget } from '../../lib/engine/target.ts';
import { build, tempProject } from '../fixtures/engine/helpers.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A target whose build logs its start and end and takes `ms`. */
function timed(name: string, events: string[], ms: number, extra: Partial<AnyTarget> = {}, deps: Record<string, AnyTarget> = {}): AnyTarget {
  return target({
    name,
    description: name,
    deps,
    ...extra,
    build: async () => {
      events.push(`${name} start`);
      await pause(ms);
      events.push(`${name} end`);
      return name;
    },
  }) as AnyTarget;
}

test('two builds of a depth-1 pool never overlap, and a build outside it runs beside them', async () => {
  const events: string[] = [];
  const compilers = pool('compiler', 1);
  const a = timed('compile:a', events, 40, { pool: compilers });
  const b = timed('compile:b', events, 40, { pool: compilers });
  const fetch = timed('fetch', events, 20);
  const dir = tempProject();
  const report = await build(dir, { targets: [a, b, fetch, alias('all', 'all', [a, b, fetch])], requested: ['all'], jobs: 2 });
  assert.ok(report.ok);
  const first = events.find((e) => e.startsWith('compile:'))!.replace(' start', '');
  const second = first === 'compile:a' ? 'compile:b' : 'compile:a';
  // The second compile starts only after the first ended; fetch did not wait for a job slot the
  // waiting compile would have held.
  assert.ok(events.indexOf(`${second} start`) > events.indexOf(`${first} end`), events.join(', '));
  assert.ok(events.indexOf('fetch end') < events.indexOf(`${first} end`), events.join(', '));
});

test('builds ready at the same moment start by priority: the one with the longest chain of dependents first', async () => {
  const events: string[] = [];
  // Registered first, nothing depends on it.
  const leaf = timed('leaf', events, 10);
  // Registered second, with a chain of three dependents.
  const head = timed('head', events, 10);
  const mid = timed('mid', events, 1, {}, { head });
  const tail = timed('tail', events, 1, {}, { mid });
  const dir = tempProject();
  const report = await build(dir, { targets: [leaf, head, mid, tail, alias('all', 'all', [leaf, tail])], requested: ['all'], jobs: 1 });
  assert.ok(report.ok);
  assert.equal(events.slice(0, 2), ['head start', 'head end']);
});

test('a pool named twice by different objects, or of depth 0, is a bad target', () => {
  const one = timed('one', [], 1, { pool: pool('go', 1) });
  const two = timed('two', [], 1, { pool: pool('go', 1) });
  const zero = timed('zero', [], 1, { pool: { name: 'none', depth: 0 } });
  try {
    buildGraph([one, two, zero]);
    assert.unreachable('the graph is invalid');
  } catch (error) {
    assert.instance(error, InvalidGraphError);
    assert.equal(
      (error as InvalidGraphError).problems.map((p) => p.message),
      ['two: its pool go is a different object from the pool go of one', 'zero: pool must be made with pool(name, depth), depth a whole number of at least 1'],
    );
  }
});

test.run();
