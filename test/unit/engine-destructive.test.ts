// Destructive targets: refused without yes (all named in one needs-yes error, nothing runs), listed by a dry run, built with yes; ctx.forget drops records; recordedTargets lists them; the node-removal composition.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { EngineError, readStoredResult, recordedTargets } from '../../lib/engine/index.ts';
import { target, type AnyTarget } from '../../lib/engine/target.ts';
import { build, tempProject } from '../fixtures/engine/helpers.ts';
import { nodeRecordNames, nodeRemovalTargets } from '../../tasks/nodes/removal.ts';
import { defaultConfig } from '../../tasks/config/config.ts';
import type { BinaryResult } from '../../tasks/binaries/index.ts';

function project(ran: string[]) {
  const other = target({ name: 'a:other', description: 'harmless', deps: {}, build: async () => { ran.push('a:other'); return 1; } });
  const kept = target({ name: 'node:w2', description: 'a node', deps: {}, build: async () => { ran.push('node:w2'); return { c: 'w2' }; } });
  const gone = target({ name: 'node:w3', description: 'a node', deps: {}, build: async () => { ran.push('node:w3'); return { c: 'w3' }; } });
  const perNode = target({ name: 'unit:w3:kubelet', description: 'per node', deps: { gone }, build: async () => { ran.push('unit:w3:kubelet'); return 2; } });
  const removeA = target({
    name: 'remove:node:w3', description: 'removes w3', deps: { other }, destructive: 'c-w3 (node w3)',
    build: async (ctx) => { ran.push('remove:node:w3'); ctx.forget?.(['node:w3', 'unit:w3:kubelet', 'remove:node:w3']); return null; },
  });
  const removeB = target({ name: 'remove:node:w4', description: 'removes w4', deps: {}, destructive: true, build: async () => { ran.push('remove:node:w4'); return null; } });
  return { setup: [other, kept, gone, perNode], removals: [removeA, removeB], all: [other, kept, gone, perNode, removeA, removeB] };
}

test('without yes, a run with destructive targets is refused before anything runs, naming every one', async () => {
  const root = tempProject('destructive');
  const ran: string[] = [];
  const p = project(ran);
  let error: unknown;
  try {
    await build(root, { targets: p.all, requested: ['a:other', 'remove:node:w3', 'remove:node:w4'] });
  } catch (e) {
    error = e;
  }
  assert.instance(error, EngineError);
  assert.is((error as EngineError).kind, 'needs-yes');
  assert.match((error as EngineError).message, /the run would remove c-w3 \(node w3\), remove:node:w4/);
  assert.match((error as EngineError).message, /--yes/);
  assert.equal(ran, []);
});

test('a dry run lists what would be removed and runs nothing', async () => {
  const root = tempProject('destructive');
  const ran: string[] = [];
  const report = await build(root, { targets: project(ran).all, requested: ['remove:node:w3'], dryRun: true });
  assert.equal(report.destructive, ['c-w3 (node w3)']);
  assert.is(report.entries['remove:node:w3']!.outcome, 'would-build');
  assert.equal(ran, []);
});

test('with yes it builds; forget drops the named records (and its own), recordedTargets sees the rest', async () => {
  const root = tempProject('destructive');
  const ran: string[] = [];
  const p = project(ran);
  await build(root, { targets: p.setup, requested: ['a:other', 'node:w2', 'unit:w3:kubelet'] });
  const before = recordedTargets(join(root, 'output'));
  assert.equal(before.names().sort(), ['a:other', 'node:w2', 'node:w3', 'unit:w3:kubelet']);
  assert.equal(before.result('node:w3'), { c: 'w3' });
  ran.length = 0;
  const report = await build(root, { targets: p.all, requested: ['remove:node:w3'], yes: true });
  assert.ok(report.ok, JSON.stringify(report.failures));
  assert.equal(ran, ['remove:node:w3']);
  assert.equal(report.destructive, ['c-w3 (node w3)']);
  assert.equal(recordedTargets(join(root, 'output')).names().sort(), ['a:other', 'node:w2']);
  assert.is(readStoredResult(join(root, 'output'), 'remove:node:w3'), undefined);
});

test('nodeRecordNames picks one node\'s records only', () => {
  const names = ['node:worker-3', 'node:worker-30', 'install:worker-3:kubelet', 'install:worker-30:kubelet', 'unit:worker-3:kubelet', 'ready:worker-3:node', 'load:echo@worker-3', 'load:echo@worker-30', 'net:network'];
  assert.equal(nodeRecordNames(names, 'worker-3'), ['node:worker-3', 'install:worker-3:kubelet', 'unit:worker-3:kubelet', 'ready:worker-3:node', 'load:echo@worker-3']);
});

test('nodeRemovalTargets: one destructive target per recorded node left out of the config; control planes leave etcd first, one at a time, the last first', () => {
  const config = defaultConfig;
  const records: Record<string, unknown> = {
    'node:worker-1': { container: 'harder-worker-1', role: 'worker' },
    'node:worker-3': { container: 'harder-worker-3', id: 'abc', ip: '10.240.0.23', role: 'worker' },
    'node:controller-2': { container: 'harder-controller-2', id: 'def', ip: '10.240.0.11', role: 'control-plane' },
    'node:controller-3': { container: 'harder-controller-3', id: 'ghi', ip: '10.240.0.12', role: 'control-plane' },
    'unit:worker-3:kubelet': 1,
  };
  const recorded = { names: () => Object.keys(records), result: (n: string) => records[n] as never };
  const dep = target({ name: 'x:dep', description: 'dep', deps: {}, build: async () => null });
  // Never built here: only its result type matters (removal reads the kubectl path from it).
  const kubectl = target({ name: 'x:kubectl', description: 'kubectl', deps: {}, build: async (): Promise<BinaryResult> => ({ name: 'kubectl', version: 'v1.34.4', source: 'go', path: '/bin/kubectl', sha256: '' }) });
  const asked: string[] = [];
  const memberRemoval = (node: { name: string; ip: string; container: string }, previous: AnyTarget | undefined) => {
    asked.push(`${node.name} ${node.ip} ${node.container} after ${previous?.name ?? 'nothing'}`);
    return target({ name: `etcd:${node.name}:member-remove`, description: 'm', deps: previous ? { previous } : {}, destructive: `etcd member ${node.name}`, build: async () => null });
  };
  const targets = nodeRemovalTargets(config, recorded, { kubectl, adminKubeconfig: dep, apiserverReady: dep, memberRemoval });
  assert.equal(targets.map((t) => t.name), ['remove:node:worker-3', 'etcd:controller-3:member-remove', 'remove:node:controller-3', 'etcd:controller-2:member-remove', 'remove:node:controller-2']);
  assert.equal(asked, ['controller-3 10.240.0.12 harder-controller-3 after nothing', 'controller-2 10.240.0.11 harder-controller-2 after remove:node:controller-3']);
  assert.is(targets[0]!.destructive, 'harder-worker-3 (node worker-3)');
  assert.is(targets[2]!.destructive, 'harder-controller-3 (node controller-3)');
  // Each control plane's node goes after it left etcd.
  assert.is((targets[2]!.deps as Record<string, AnyTarget>)['member'], targets[1]);
  assert.is((targets[4]!.deps as Record<string, AnyTarget>)['member'], targets[3]);
});

test.run();
