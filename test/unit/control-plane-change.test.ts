// Going from one control plane to three, and back, must leave what runs on the control plane that stays
// alone: its certificates, its kubeconfigs and its units are made from the same inputs in both graphs, so
// none of them is rebuilt or restarted by the change (the membership itself is the etcd targets' job).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AnyTarget, Json } from '../../lib/engine/target.ts';
import { defaultConfig, defaultNodes, type ClusterConfig } from '../../tasks/config/config.ts';
import { projectTargets } from '../../tasks/index.ts';

const withControlPlanes = (n: number): ClusterConfig => ({ ...defaultConfig, nodes: defaultNodes({ controlPlanes: n, workers: 1 }) });

/**
 * What a target's key is made of, as far as the graph knows before anything runs: its inputs, and each
 * dependency's own signature. Dependencies only ordered after (`after:*`, whose results never change on
 * purpose: tasks/cluster/node-targets.ts RunningUnit, the readiness checks) count by name.
 */
function signature(t: AnyTarget, memo = new Map<AnyTarget, Json>()): Json {
  const known = memo.get(t);
  if (known !== undefined) return known;
  const deps: Record<string, Json> = {};
  for (const [alias, dep] of Object.entries(t.deps as Record<string, AnyTarget>).sort(([a], [b]) => a.localeCompare(b))) {
    deps[alias] = alias.startsWith('after:') ? dep.name : signature(dep, memo);
  }
  const sig: Json = { name: t.name, version: t.version ?? 0, values: (t.inputs?.values ?? {}) as Json, files: t.inputs?.files ?? [], deps };
  memo.set(t, sig);
  return sig;
}

const byName = (targets: AnyTarget[]) => new Map(targets.map((t) => [t.name, t]));
const one = byName(projectTargets(withControlPlanes(1)));
const three = byName(projectTargets(withControlPlanes(3)));

/** controller-1's units (the kube-apiserver's cert, etcd-servers and flags; the controller-manager's and scheduler's kubeconfigs). */
const STAYING = ['unit:controller-1:kube-apiserver', 'unit:controller-1:kube-controller-manager', 'unit:controller-1:kube-scheduler'];

test("controller-1's control-plane units are made from the same inputs with one control plane and with three", () => {
  for (const name of STAYING) {
    const a = one.get(name);
    const b = three.get(name);
    assert.ok(a && b, name);
    assert.equal(signature(b!), signature(a!), `${name} would be rebuilt (and restarted) by going from 1 to 3 control planes`);
  }
});

test('each control plane has its own apiserver serving cert; adding one adds only its cert', () => {
  const certs = (m: Map<string, AnyTarget>) => [...m.keys()].filter((n) => n.startsWith('certs:kube-apiserver')).sort();
  assert.equal(certs(one), ['certs:kube-apiserver:controller-1']);
  assert.equal(certs(three), ['certs:kube-apiserver:controller-1', 'certs:kube-apiserver:controller-2', 'certs:kube-apiserver:controller-3']);
  assert.equal(three.get('certs:kube-apiserver:controller-2')!.inputs!.values!['nodeIp'], '10.240.0.11');
});

test.run();
