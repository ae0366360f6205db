// Adding a node changes the IP plan, but the other nodes and the network take only their own addresses as
// inputs: their definitions (dependencies and input values, which with the dependencies' results make the
// key) are the same with 2 and with 3 workers, so a third worker leaves them up to date.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultConfig, defaultNodes, type ClusterConfig } from '../../tasks/config/config.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';
import { nodesStep } from '../../tasks/nodes/index.ts';
import type { AnyTarget } from '../../lib/engine/target.ts';

const withWorkers = (workers: number): ClusterConfig => ({ ...defaultConfig, nodes: defaultNodes({ controlPlanes: 1, workers }) });

/**
 * What a target's key is made of, with each dependency's own definition in place of its result (a
 * dependency whose definition is the same gives the same result): equal definitions, equal keys.
 */
function definition(t: AnyTarget): unknown {
  const deps = Object.entries(t.deps as Record<string, AnyTarget>).map(([alias, dep]) => [alias, dep.name, definition(dep)]);
  return { deps, values: t.inputs?.values, files: t.inputs?.files, env: t.inputs?.env, version: t.version };
}

function targetsOf(workers: number): Map<string, AnyTarget> {
  const config = withWorkers(workers);
  return new Map(nodesStep(config, planIps(config)).all.map((t) => [t.name, t]));
}

test('a third worker leaves the network and the other nodes with the same definition', () => {
  const two = targetsOf(2);
  const three = targetsOf(3);
  assert.ok(three.has('node:worker-3') && !two.has('node:worker-3'));
  for (const name of ['net:network', 'node:controller-1', 'node:worker-1', 'node:worker-2']) {
    assert.equal(definition(three.get(name)!), definition(two.get(name)!), name);
  }
});

test("a node's planned address is an input: a different subnet changes the node and the network", () => {
  const config = withWorkers(2);
  const moved = { ...config, nodeSubnet: '10.99.0.0/24' };
  const before = new Map(nodesStep(config, planIps(config)).all.map((t) => [t.name, t]));
  const after = new Map(nodesStep(moved, planIps(moved)).all.map((t) => [t.name, t]));
  const ipOf = (t: AnyTarget) => (t.inputs?.values as { ip?: string }).ip;
  assert.is(ipOf(before.get('node:worker-1')!), planIps(config).nodes.find((n) => n.name === 'worker-1')!.ip);
  assert.is(ipOf(after.get('node:worker-1')!)!.startsWith('10.99.0.'), true);
  assert.is.not((after.get('net:network')!.inputs?.values as { subnet: string }).subnet, (before.get('net:network')!.inputs?.values as { subnet: string }).subnet);
});

test.run();
