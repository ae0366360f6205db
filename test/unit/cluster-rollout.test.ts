// One node at a time (tasks/cluster/rollout.ts), run by the real engine against recording fake nodes: a
// change that restarts a component on three nodes restarts them in node order, each only after the one
// before is healthy again; a first start waits for no health; a node that never comes back stops the
// rollout there; a no-op run builds nothing; and the project's own graph has the chains it should.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildGraph } from '../../lib/engine/graph.ts';
import { provide, runBuild, type BuildReport } from '../../lib/engine/index.ts';
import { alias, target, type AnyTarget } from '../../lib/engine/target.ts';
import { FakeNode, fakeFleet } from '../../lib/node/fake.ts';
import { fileTarget, unitTarget } from '../../tasks/cluster/node-targets.ts';
import { rollOneAtATime, type UnitHealth } from '../../tasks/cluster/rollout.ts';
import type { NodeContainer } from '../../tasks/nodes/containers.ts';
import { nodeFleet } from '../../tasks/nodes/node-fleet.ts';
import { defaultConfig, defaultNodes } from '../../tasks/config/config.ts';
import { projectTargets } from '../../tasks/index.ts';
import { tempProject, write } from '../fixtures/engine/helpers.ts';

const NAMES = ['n1', 'n2', 'n3'];
const CONF = '/etc/harder/svc.conf';

/**
 * What happened, in order, across all nodes: `restart n1`, `health n1 ok`, `health n1 no`. The fake
 * nodes' health answers "not yet" for the first `unhealthyLooks` looks after each restart.
 */
type World = { nodes: Record<string, FakeNode>; events: string[]; unhealthyLooks: Record<string, number>; looksLeft: Record<string, number>; activeSince: Record<string, number | undefined> };

function world(): World {
  const w: World = { nodes: {}, events: [], unhealthyLooks: {}, looksLeft: {}, activeSince: {} };
  for (const name of NAMES) {
    const node = new FakeNode(`c-${name}`);
    node.units.set('svc', { active: 'inactive', sub: 'dead', enabled: '', job: false, type: 'oneshot' });
    const restart = node.onRestart;
    node.onRestart = (unit, state) => {
      restart(unit, state);
      w.events.push(`restart ${name}`);
      w.looksLeft[name] = w.unhealthyLooks[name] ?? 0;
    };
    w.nodes[name] = node;
  }
  return w;
}

function health(w: World): UnitHealth {
  return {
    what: 'the fake says so',
    check: async (_node, unit, _ctx, state) => {
      w.activeSince[unit.node] = state.since;
      const left = w.looksLeft[unit.node] ?? 0;
      w.looksLeft[unit.node] = left - 1;
      w.events.push(`health ${unit.node} ${left > 0 ? 'no' : 'ok'}`);
      return left > 0 ? `${unit.node} not yet (${left} more)` : undefined;
    },
  };
}

/** Three nodes, each running `svc` from a config whose text is `version`; the units rolled one at a time. */
function project(w: World, version: string, options = { timeoutMs: 5000, pollMs: 1 }): AnyTarget[] {
  const all: AnyTarget[] = [];
  const units = [];
  for (const name of NAMES) {
    const nodeTarget = target({
      name: `node:${name}`,
      description: `fake node ${name}`,
      deps: {},
      build: async (): Promise<NodeContainer> => ({ name, container: `c-${name}`, id: `id-${name}`, ip: '10.0.0.1', role: 'worker', image: 'node', key: 'k' }),
    });
    const conf = fileTarget({ node: name, nodeTarget, id: 'svc-conf', path: CONF, description: 'config', source: { text: `version=${version}\n` } });
    const unit = unitTarget({ node: name, nodeTarget, unit: 'svc', description: `svc on ${name}`, files: { conf } });
    all.push(nodeTarget, conf, unit);
    units.push(unit);
  }
  const gates = rollOneAtATime(units, health(w), options);
  return [...all, ...gates, alias('cluster', 'everything', units)];
}

async function run(root: string, w: World, targets: AnyTarget[], dryRun = false): Promise<BuildReport> {
  const report = await runBuild({ targets, requested: ['cluster'], root, jobs: 4, dryRun, resources: [provide(nodeFleet, fakeFleet(Object.values(w.nodes), targets))] });
  return report;
}

const built = (report: BuildReport) => Object.keys(report.entries).filter((n) => report.entries[n]!.outcome === 'built' && !n.startsWith('node:')).sort();
const ok = (report: BuildReport) => assert.ok(report.ok, report.failures.map((f) => `${f.target}: ${f.message}`).join('\n'));

test('the graph: each node\'s unit is ordered after the previous node\'s gate, which depends on that node\'s unit; the last node has none', () => {
  const w = world();
  const targets = project(w, 'a');
  const byName = new Map(targets.map((t) => [t.name, t]));
  assert.equal(targets.filter((t) => t.name.startsWith('rollout:')).map((t) => t.name), ['rollout:n1:svc', 'rollout:n2:svc']);
  assert.is(byName.get('unit:n2:svc')!.orderOnly?.rollout, byName.get('rollout:n1:svc'));
  assert.is(byName.get('unit:n3:svc')!.orderOnly?.rollout, byName.get('rollout:n2:svc'));
  assert.is(byName.get('unit:n1:svc')!.orderOnly?.rollout, undefined);
  assert.not.ok('after:rollout' in byName.get('unit:n2:svc')!.deps, 'not a key dependency');
  assert.equal(Object.keys(byName.get('rollout:n1:svc')!.deps), ['unit']);
  assert.is(byName.get('rollout:n1:svc')!.deps.unit, byName.get('unit:n1:svc'));
});

test('a first start: every unit started in node order, no health waited for; then a no-op run builds nothing and looks at each gate once', async () => {
  const w = world();
  const root = tempProject('rollout');
  const targets = project(w, 'a');
  w.unhealthyLooks = { n1: 100, n2: 100, n3: 100 }; // never healthy: a first start must not wait for it
  const first = await run(root, w, targets);
  ok(first);
  assert.equal(w.events, ['restart n1', 'restart n2', 'restart n3']);
  assert.match(first.entries['rollout:n1:svc']!.reason, /never built/);
  w.events.length = 0;
  w.looksLeft = {};
  const again = await run(root, w, targets);
  ok(again);
  assert.equal(built(again), []);
  assert.equal([...w.events].sort(), ['health n1 ok', 'health n2 ok']);
});

test('a change on every node: restarted one node at a time, each after the previous one is healthy again (waited for while it is not)', async () => {
  const w = world();
  const root = tempProject('rollout');
  ok(await run(root, w, project(w, 'a')));
  w.events.length = 0;
  w.unhealthyLooks = { n1: 2, n2: 3, n3: 0 };
  const report = await run(root, w, project(w, 'b'));
  ok(report);
  assert.equal(w.events, [
    'restart n1',
    'health n1 no', // the gate's probe, right after the restart
    'health n1 no', // its build: waits
    'health n1 ok',
    'restart n2',
    'health n2 no',
    'health n2 no',
    'health n2 no',
    'health n2 ok',
    'restart n3',
  ]);
  assert.equal(built(report), ['install:n1:svc-conf', 'install:n2:svc-conf', 'install:n3:svc-conf', 'rollout:n1:svc', 'rollout:n2:svc', 'unit:n1:svc', 'unit:n2:svc', 'unit:n3:svc']);
  assert.match(report.entries['rollout:n1:svc']!.reason, /^probe: n1 not yet/);
  for (const node of Object.values(w.nodes)) assert.is(node.text(CONF), 'version=b\n');
});

test('a change on one node only: that unit restarts; the gates after it only look; the other nodes are not restarted', async () => {
  const w = world();
  const root = tempProject('rollout');
  ok(await run(root, w, project(w, 'a')));
  w.events.length = 0;
  w.nodes.n2!.files.set(CONF, { content: Buffer.from('edited'), mode: 0o644, mtime: 1 });
  w.unhealthyLooks = { n2: 1 };
  // A file that changed on the node is put back; its unit's result does not change, so nothing restarts.
  const repaired = await run(root, w, project(w, 'a'));
  ok(repaired);
  assert.equal(built(repaired), ['install:n2:svc-conf']);
  assert.equal(w.events.filter((e) => e.startsWith('restart')), []);
  // A unit that stopped: only it restarts, and its gate waits for it before n3's unit is decided.
  w.events.length = 0;
  Object.assign(w.nodes.n2!.units.get('svc')!, { active: 'failed', sub: 'failed' });
  const report = await run(root, w, project(w, 'a'));
  ok(report);
  assert.equal(built(report), ['rollout:n2:svc', 'unit:n2:svc']);
  assert.equal(w.events.filter((e) => !e.startsWith('health n1')), ['restart n2', 'health n2 no', 'health n2 ok']);
});

test('a unit that crashed right after its restart: the waiting gate reads systemd afresh each look (not the run\'s earlier read) and hands the check when the unit became active again', async () => {
  const w = world();
  const root = tempProject('rollout');
  ok(await run(root, w, project(w, 'a')));
  w.events.length = 0;
  // n1's svc comes up (its unit target sees it active), then crashes: the gate's first read finds it in
  // auto-restart, and systemd has it active again, since a later second, on the third read.
  const n1 = w.nodes.n1!;
  let readsAfterRestart: number | undefined;
  const restart = n1.onRestart;
  n1.onRestart = (unit, state) => {
    restart(unit, state);
    readsAfterRestart = 0;
  };
  const readState = n1.readState.bind(n1);
  n1.readState = async (query) => {
    const unit = n1.units.get('svc')!;
    if (readsAfterRestart !== undefined) {
      readsAfterRestart++;
      if (readsAfterRestart === 1) Object.assign(unit, { active: 'activating', sub: 'auto-restart', since: undefined });
      if (readsAfterRestart === 3) Object.assign(unit, { active: 'active', sub: 'running', since: 1_800_000_000 });
    }
    return readState(query);
  };
  const report = await run(root, w, project(w, 'b'));
  ok(report);
  assert.ok(readsAfterRestart! >= 3, `the gate read n1 afresh until systemd said active (${readsAfterRestart} reads)`);
  assert.match(report.entries['rollout:n1:svc']!.reason, /^probe: svc on n1 is activating \(auto-restart\)/);
  assert.equal(w.events.filter((e) => e.startsWith('restart')), ['restart n1', 'restart n2', 'restart n3']);
  assert.ok(w.events.indexOf('health n1 ok') < w.events.indexOf('restart n2'), 'n2 waited for n1 to be healthy');
  assert.is(w.activeSince.n1, 1_800_000_000, 'the check got when the unit became active, from the same read');
});

test('a node that never comes back: its gate fails naming it, and the next node is not restarted', async () => {
  const w = world();
  const root = tempProject('rollout');
  ok(await run(root, w, project(w, 'a')));
  w.events.length = 0;
  w.unhealthyLooks = { n1: 1_000_000 };
  const report = await run(root, w, project(w, 'b', { timeoutMs: 50, pollMs: 5 }));
  assert.is(report.ok, false);
  const failure = report.failures.find((f) => f.target === 'rollout:n1:svc');
  assert.ok(failure, 'the gate failed');
  assert.match(failure!.message, /^n1: svc is not back in service after 0\.05 s \(n1 not yet/);
  assert.match(failure!.message, /its restart on the next node was not started/);
  assert.equal(w.events.filter((e) => e.startsWith('restart')), ['restart n1']);
  assert.is(w.nodes.n2!.text(CONF), 'version=b\n', 'files may be installed ahead');
  assert.is(report.entries['unit:n2:svc']!.outcome, 'skipped');
});

test('a dry run after a change: the gates and units would build; nothing is restarted or written; a gate alone does not make the next unit stale', async () => {
  const w = world();
  const root = tempProject('rollout');
  ok(await run(root, w, project(w, 'a')));
  w.events.length = 0;
  const writes = Object.values(w.nodes).map((n) => n.writes.length);
  const report = await run(root, w, project(w, 'b'), true);
  ok(report);
  assert.is(report.entries['rollout:n1:svc']!.outcome, 'would-build');
  assert.is(report.entries['unit:n3:svc']!.outcome, 'would-build');
  assert.equal(w.events.filter((e) => e.startsWith('restart')), []);
  assert.equal(Object.values(w.nodes).map((n) => n.writes.length), writes);
  // A gate that would wait does not make the next node's unit look stale: the edge is order-only.
  w.nodes.n1!.files.set(CONF, { content: Buffer.from('edited'), mode: 0o644, mtime: 1 });
  const one = await run(root, w, project(w, 'a'), true);
  assert.is(one.entries['rollout:n1:svc']!.outcome, 'would-build');
  assert.is(one.entries['unit:n2:svc']!.outcome, 'up-to-date');
});

test('the project graph: etcd, apiserver, controller-manager, scheduler chained over 3 control planes; containerd, kubelet, kube-proxy over 3 workers; no cycle', () => {
  const config = { ...defaultConfig, nodes: defaultNodes({ controlPlanes: 3, workers: 3 }) };
  const targets = projectTargets(config);
  buildGraph(targets); // throws on a cycle or a dangling dependency
  const gates = targets.filter((t) => t.name.startsWith('rollout:')).map((t) => t.name).sort();
  const chain = (unit: string, nodes: string[]) => nodes.slice(0, -1).map((n) => `rollout:${n}:${unit}`);
  const cps = ['controller-1', 'controller-2', 'controller-3'];
  const wks = ['worker-1', 'worker-2', 'worker-3'];
  assert.equal(gates, [...chain('etcd', cps), ...chain('kube-apiserver', cps), ...chain('kube-controller-manager', cps), ...chain('kube-scheduler', cps), ...chain('containerd', wks), ...chain('kubelet', wks), ...chain('kube-proxy', wks)].sort());
  const byName = new Map(targets.map((t) => [t.name, t]));
  assert.is(byName.get('unit:worker-3:kubelet')!.orderOnly?.rollout!.name, 'rollout:worker-2:kubelet');
  assert.is(byName.get('unit:controller-2:etcd')!.orderOnly?.rollout!.name, 'rollout:controller-1:etcd');
  // One control plane: nothing to order there.
  assert.equal(projectTargets(defaultConfig).filter((t) => /^rollout:controller/.test(t.name)), []);
});

test.run();
