// The upgrade's plan and its place in the graph (tasks/cluster/upgrade): the order is the version-skew
// policy's (apiservers one control plane at a time, then controller-manager and scheduler, then each worker
// drained, its kubelet and kube-proxy restarted, uncordoned, before the next), every edge it adds is
// order-only (no key changes), and a run without a version change, or one that only adds a node, has no
// upgrade target at all.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnyTarget, Json } from '../../lib/engine/target.ts';
import type { RecordedTargets } from '../../lib/engine/state.ts';
import { defaultConfig, defaultNodes, type ClusterConfig } from '../../tasks/config/config.ts';
import { projectTargets } from '../../tasks/index.ts';
import { upgradePlan, describePlan } from '../../tasks/cluster/upgrade/skew.ts';
import { recordedNodes, recordedVersionOf, runningComponents } from '../../tasks/cluster/upgrade/running.ts';
import { skewRefusalLine } from '../../tasks/cluster/upgrade/index.ts';
import { buildGraph } from '../../lib/engine/graph.ts';

const CPS = ['controller-1', 'controller-2', 'controller-3'];
const WORKERS = ['worker-1', 'worker-2'];
const spec = (version: string, workers = 2): ClusterConfig => ({ ...defaultConfig, kubernetesVersion: version, nodes: defaultNodes({ controlPlanes: 3, workers }) });
const sha = (binary: string, version: string) => `${binary}-${version}-sha`;

/** A journal of a 3 + 2 cluster whose nodes were all built at `version` (`bin:*` built at `built`). */
function journal(version: string, built = version, nodes = { cps: CPS, workers: WORKERS }): RecordedTargets {
  const records: Record<string, Json> = {};
  const put = (node: string, binary: string) => (records[`install:${node}:${binary}`] = { node, container: `harder-${node}`, path: `/usr/local/bin/${binary}`, sha256: sha(binary, version), mode: 493 });
  nodes.cps.forEach((cp, i) => {
    records[`node:${cp}`] = { name: cp, container: `harder-${cp}`, id: cp, ip: `10.240.0.${10 + i}`, role: 'control-plane', image: 'x', key: 'k' };
    records[`unit:${cp}:etcd`] = { node: cp, container: `harder-${cp}`, unit: 'etcd' };
    for (const b of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) put(cp, b);
  });
  nodes.workers.forEach((w, i) => {
    records[`node:${w}`] = { name: w, container: `harder-${w}`, id: w, ip: `10.240.0.${20 + i}`, role: 'worker', image: 'x', key: 'k' };
    for (const b of ['kubelet', 'kube-proxy']) put(w, b);
  });
  for (const b of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy']) records[`bin:${b}`] = { name: b, version: built, source: 'go', path: `/c/bin/${built}/go/${b}`, sha256: sha(b, built) };
  return { names: () => Object.keys(records), result: (n) => records[n] };
}

const byName = (targets: AnyTarget[]) => new Map(targets.map((t) => [t.name, t]));
const orderOnly = (m: Map<string, AnyTarget>, name: string) => (m.get(name)!.orderOnly ?? {}) as Record<string, AnyTarget>;

test("the plan from v1.33.13 to v1.34.4 on 3 control planes and 2 workers is the policy's order", () => {
  const running = Object.fromEntries([
    ...CPS.map((n) => [n, { 'kube-apiserver': 'v1.33.13', 'kube-controller-manager': 'v1.33.13', 'kube-scheduler': 'v1.33.13' }]),
    ...WORKERS.map((n) => [n, { kubelet: 'v1.33.13', 'kube-proxy': 'v1.33.13' }]),
  ]);
  const steps = upgradePlan({ controlPlanes: CPS, workers: WORKERS }, running, 'v1.34.4');
  assert.equal(steps.map((s) => s.target), [
    'unit:controller-1:kube-apiserver', 'unit:controller-2:kube-apiserver', 'unit:controller-3:kube-apiserver',
    'unit:controller-1:kube-controller-manager', 'unit:controller-2:kube-controller-manager', 'unit:controller-3:kube-controller-manager',
    'unit:controller-1:kube-scheduler', 'unit:controller-2:kube-scheduler', 'unit:controller-3:kube-scheduler',
    'upgrade:worker-1:drain', 'unit:worker-1:kubelet', 'unit:worker-1:kube-proxy', 'upgrade:worker-1:uncordon',
    'upgrade:worker-2:drain', 'unit:worker-2:kubelet', 'unit:worker-2:kube-proxy', 'upgrade:worker-2:uncordon',
  ]);
  const text = describePlan(steps).join('\n');
  assert.match(text, /Kubernetes v1\.33\.13 → v1\.34\.4/);
  assert.match(text, /1\. controller-1: kube-apiserver v1\.33\.13 → v1\.34\.4/);
  assert.match(text, /10\. worker-1: cordon, drain/);
});

test('nothing to change, or a node never built: no step', () => {
  assert.equal(upgradePlan({ controlPlanes: CPS, workers: WORKERS }, { 'controller-1': { 'kube-apiserver': 'v1.34.4' } }, 'v1.34.4'), []);
  // worker-3 has no record (it is being added): it starts at the new version, no drain.
  const steps = upgradePlan({ controlPlanes: [], workers: ['worker-3'] }, {}, 'v1.34.4');
  assert.equal(steps, []);
  assert.equal(describePlan([]), []);
});

test("the running versions come from the records: the installed binary's sha256, matched by bin:* or else by the binary cache", () => {
  const nodes = spec('v1.34.4').nodes;
  // The usual case: bin:* still holds the build that was installed.
  const running = runningComponents(nodes, journal('v1.33.13'), recordedVersionOf(journal('v1.33.13'), '/nonexistent'));
  assert.equal(running['controller-2'], { 'kube-apiserver': 'v1.33.13', 'kube-controller-manager': 'v1.33.13', 'kube-scheduler': 'v1.33.13' });
  assert.equal(running['worker-1'], { kubelet: 'v1.33.13', 'kube-proxy': 'v1.33.13' });
  // bin:* rebuilt for v1.34.4 since (an interrupted upgrade): the cache's records still know v1.33.13's files.
  const cache = mkdtempSync(join(tmpdir(), 'upgrade-cache-'));
  try {
    mkdirSync(join(cache, 'v1.33.13', 'go'), { recursive: true });
    writeFileSync(join(cache, 'v1.33.13', 'go', 'kubelet.json'), JSON.stringify({ name: 'kubelet', version: 'v1.33.13', source: 'go', sha256: sha('kubelet', 'v1.33.13'), recipe: '{}' }));
    const records = journal('v1.33.13', 'v1.34.4');
    const later = runningComponents(nodes, records, recordedVersionOf(records, cache));
    assert.equal(later['worker-1'], { kubelet: 'v1.33.13' }, 'kube-proxy: no record anywhere names its sha256');
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  assert.equal(recordedNodes(journal('v1.33.13').names()).map((n) => `${n.name}/${n.role}`), ['controller-1/control-plane', 'controller-2/control-plane', 'controller-3/control-plane', 'worker-1/worker', 'worker-2/worker']);
});

test('the refusal is one line naming the file and the field', () => {
  const line = skewRefusalLine('v1.35.4', journal('v1.33.13'), 'upgrade.json', '/nonexistent');
  assert.ok(line);
  assert.not.match(line!, /\n/);
  assert.match(line!, /^upgrade\.json: kubernetesVersion: v1\.35\.4 skips v1\.34: the cluster runs v1\.33\.13/);
  assert.is(skewRefusalLine('v1.34.4', journal('v1.33.13'), 'upgrade.json', '/nonexistent'), undefined);
});

test('in the graph: drain and uncordon per worker, restarts ordered order-only, in the policy order', () => {
  const m = byName(projectTargets(spec('v1.34.4'), { recorded: journal('v1.33.13') }));
  for (const w of WORKERS) {
    assert.ok(m.has(`upgrade:${w}:drain`), w);
    assert.ok(m.has(`upgrade:${w}:uncordon`), w);
    assert.ok((m.get('cluster')!.deps as Record<string, AnyTarget>)[`upgrade:${w}:uncordon`], `cluster builds upgrade:${w}:uncordon`);
    // The worker's restarts and binary installs wait for its drain.
    for (const t of [`unit:${w}:kubelet`, `unit:${w}:kube-proxy`, `unit:${w}:containerd`, `install:${w}:kubelet`, `install:${w}:kube-proxy`]) {
      assert.is(orderOnly(m, t)['upgrade:drain'], m.get(`upgrade:${w}:drain`), t);
    }
    // The uncordon reads the new units (it waits for them).
    const deps = m.get(`upgrade:${w}:uncordon`)!.deps as Record<string, AnyTarget>;
    assert.is(deps.kubelet, m.get(`unit:${w}:kubelet`));
    assert.is(deps.proxy, m.get(`unit:${w}:kube-proxy`));
  }
  // worker-1 drains after every controller-manager and scheduler restart; worker-2 after worker-1 is back.
  const first = Object.values(orderOnly(m, 'upgrade:worker-1:drain')).map((t) => t.name);
  for (const cp of CPS) for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) assert.ok(first.includes(`unit:${cp}:${c}`), `${cp} ${c}: ${first.join(' ')}`);
  assert.is(orderOnly(m, 'upgrade:worker-2:drain').previous, m.get('upgrade:worker-1:uncordon'));
  // The controller-managers and schedulers after every apiserver.
  for (const cp of CPS) {
    const after = Object.values(orderOnly(m, `unit:${cp}:kube-scheduler`)).map((t) => t.name);
    for (const other of CPS) assert.ok(after.includes(`unit:${other}:kube-apiserver`), `${cp} scheduler after ${other} apiserver: ${after.join(' ')}`);
  }
  // The apiservers one at a time (the rollout gates, unchanged).
  assert.is(orderOnly(m, 'unit:controller-2:kube-apiserver').rollout, m.get('rollout:controller-1:kube-apiserver'));
  // The engine takes the graph (no cycle, every edge to a registered target).
  buildGraph([...m.values()]);
});

/** A target's key as the graph knows it: inputs and each dependency's (order-only edges are not in it). */
function signature(t: AnyTarget, memo = new Map<AnyTarget, Json>()): Json {
  const known = memo.get(t);
  if (known !== undefined) return known;
  const deps: Record<string, Json> = {};
  for (const [alias, dep] of Object.entries(t.deps as Record<string, AnyTarget>).sort(([a], [b]) => a.localeCompare(b))) deps[alias] = signature(dep, memo);
  const sig: Json = { name: t.name, version: t.version ?? 0, values: (t.inputs?.values ?? {}) as Json, files: t.inputs?.files ?? [], deps };
  memo.set(t, sig);
  return sig;
}

test('the upgrade adds no key: every target but its own has the same signature as in the graph with no upgrade', () => {
  const upgrading = projectTargets(spec('v1.34.4'), { recorded: journal('v1.33.13') });
  const settled = byName(projectTargets(spec('v1.34.4'), { recorded: journal('v1.34.4') }));
  for (const t of upgrading) {
    if (t.name.startsWith('upgrade:') || t.name === 'cluster' || t.name === 'cluster:smoke' || t.name === 'cluster:conformance') continue;
    assert.equal(signature(t), signature(settled.get(t.name)!), t.name);
  }
});

test('no version change, or only a node added: no upgrade target, no drain', () => {
  const same = projectTargets(spec('v1.34.4'), { recorded: journal('v1.34.4') });
  assert.equal(same.filter((t) => t.name.startsWith('upgrade:')).map((t) => t.name), []);
  const grown = projectTargets(spec('v1.34.4', 3), { recorded: journal('v1.34.4') });
  assert.equal(grown.filter((t) => t.name.startsWith('upgrade:')).map((t) => t.name), []);
  assert.equal(Object.keys(byName(grown).get('unit:worker-3:kubelet')!.orderOnly ?? {}).filter((k) => k.startsWith('upgrade')), []);
  // A node removed from the spec is removed (remove:node:*), not drained for an upgrade.
  const shrunk = projectTargets(spec('v1.34.4', 1), { recorded: journal('v1.34.4') });
  assert.equal(shrunk.filter((t) => t.name.startsWith('upgrade:')).map((t) => t.name), []);
});

test('an upgrade interrupted after a drain: the next run uncordons that worker, with nothing left to restart', () => {
  const base = journal('v1.34.4');
  const records: RecordedTargets = { names: () => [...base.names(), 'upgrade:worker-1:drain'], result: (n) => (n === 'upgrade:worker-1:drain' ? { node: 'worker-1', drained: 'v1.34.4' } : base.result(n)) };
  const names = projectTargets(spec('v1.34.4'), { recorded: records }).map((t) => t.name).filter((n) => n.startsWith('upgrade:'));
  assert.equal(names, ['upgrade:worker-1:uncordon']);
  assert.equal(upgradePlan({ controlPlanes: [], workers: ['worker-1', 'worker-2'] }, {}, 'v1.34.4', ['worker-1']).map((s) => s.target), ['upgrade:worker-1:uncordon']);
});

test.run();
