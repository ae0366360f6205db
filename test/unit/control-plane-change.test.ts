// Going from one control plane to three, and back, must leave what runs on the control plane that stays
// alone: its certificates, its kubeconfigs and its units are made from the same inputs in both graphs, so
// none of them is rebuilt or restarted by the change (the membership itself is the etcd targets' job).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AnyTarget, Json } from '../../lib/engine/target.ts';
import { defaultConfig, defaultNodes, type ClusterConfig } from '../../tasks/config/config.ts';
import { projectTargets } from '../../tasks/index.ts';
import type { RecordedTargets } from '../../lib/engine/state.ts';
import { FakeNode } from '../../lib/node/fake.ts';
import { etcdctlOn } from '../../tasks/cluster/etcd.ts';
import { findMember, joiningInitialCluster, membershipState, parseMemberList, quorum, quorumProblem, statusSaysLeader } from '../../tasks/cluster/etcd-membership.ts';

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
const STAYING = ['unit:controller-1:kube-apiserver', 'unit:controller-1:kube-controller-manager', 'unit:controller-1:kube-scheduler', 'unit:controller-1:etcd'];

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

/** What a journal of a running 1-control-plane cluster holds, as the graph reads it. */
function recordedCluster(controlPlanes: string[]): RecordedTargets {
  const records: Record<string, Json> = {};
  controlPlanes.forEach((cp, i) => {
    records[`node:${cp}`] = { name: cp, container: `harder-${cp}`, id: cp, ip: `10.240.0.${10 + i}`, role: 'control-plane', image: 'x', key: 'k' };
    records[`unit:${cp}:etcd`] = { node: cp, container: `harder-${cp}`, unit: 'etcd' };
  });
  return { names: () => Object.keys(records), result: (n) => records[n] };
}

test('a fresh cluster bootstraps every member; on a running one the new control planes join, and the member that ran keeps its key', () => {
  const fresh = byName(projectTargets(withControlPlanes(3)));
  const growing = byName(projectTargets(withControlPlanes(3), { recorded: recordedCluster(['controller-1']) }));
  for (const cp of ['controller-1', 'controller-2', 'controller-3']) assert.match(fresh.get(`etcd:${cp}:member`)!.description, /initial-cluster-state=new/);
  assert.match(growing.get('etcd:controller-1:member')!.description, /running etcd cluster/);
  for (const cp of ['controller-2', 'controller-3']) assert.match(growing.get(`etcd:${cp}:member`)!.description, /member add/);
  // The next run sees all three recorded: nothing of etcd may differ from the run that added them.
  const grown = byName(projectTargets(withControlPlanes(3), { recorded: recordedCluster(['controller-1', 'controller-2', 'controller-3']) }));
  for (const cp of ['controller-1', 'controller-2', 'controller-3']) {
    for (const name of [`etcd:${cp}:member`, `unit:${cp}:etcd`, `etcd:${cp}:promote`]) assert.equal(signature(grown.get(name)!), signature(growing.get(name)!), name);
  }
  // One at a time: each member target is ordered after the previous member's promotion, which is after its unit.
  assert.is((growing.get('etcd:controller-3:member')!.deps as Record<string, AnyTarget>)['after:previous'], growing.get('etcd:controller-2:promote'));
  assert.is((growing.get('etcd:controller-2:promote')!.deps as Record<string, AnyTarget>)['after:unit'], growing.get('unit:controller-2:etcd'));
  assert.match(growing.get('etcd:membership')!.description, /adding controller-2, controller-3/);
});

test('going from three to one: controller-3 then controller-2 leave etcd, after the endpoint config without them and the membership check', () => {
  const shrinking = projectTargets(withControlPlanes(1), { recorded: recordedCluster(['controller-1', 'controller-2', 'controller-3']) });
  const names = shrinking.map((t) => t.name).filter((n) => /member-remove|^remove:node:/.test(n));
  assert.equal(names, ['etcd:controller-3:member-remove', 'remove:node:controller-3', 'etcd:controller-2:member-remove', 'remove:node:controller-2']);
  const m = byName(shrinking);
  const deps = (n: string) => m.get(n)!.deps as Record<string, AnyTarget>;
  assert.is(deps('etcd:controller-3:member-remove')['after:endpoint'], m.get('endpoint:config'));
  assert.is(deps('etcd:controller-3:member-remove')['after:membership'], m.get('etcd:membership'));
  assert.is(deps('etcd:controller-2:member-remove')['after:previous'], m.get('remove:node:controller-3'));
  assert.match(m.get('etcd:membership')!.description, /removing controller-3, controller-2/);
  // The endpoint's config names only controller-1 and changes only after the check.
  assert.match(m.get('endpoint:config')!.description, /: controller-1 health-checked/);
  assert.is((m.get('endpoint:config')!.deps as Record<string, AnyTarget>)['after:membership'], m.get('etcd:membership'));
});

const LIST = [
  '8e9e05c52164694d, started, controller-1, https://10.240.0.10:2380, https://10.240.0.10:2379, false',
  '91bc3c398fb3c146, started, controller-2, https://10.240.0.11:2380, https://10.240.0.11:2379, false',
  'fd422379fda50e48, unstarted, , https://10.240.0.12:2380, , true',
].join('\n');

test('etcdctl member list and endpoint health, read', () => {
  const list = parseMemberList(`${LIST}\n`);
  assert.equal(list.map((m) => [m.id, m.started, m.name, m.learner]), [['8e9e05c52164694d', true, 'controller-1', false], ['91bc3c398fb3c146', true, 'controller-2', false], ['fd422379fda50e48', false, '', true]]);
  // A learner does not vote: it counts for no quorum.
  assert.equal(membershipState(list, '').members.map((m) => m.name), ['controller-1', 'controller-2']);
  // An unstarted member has no name yet: it is found by its peer URL.
  assert.is(findMember(list, { name: 'controller-3', ip: '10.240.0.12' })?.id, 'fd422379fda50e48');
  assert.is(findMember(list, { name: 'controller-4', ip: '10.240.0.13' }), undefined);
  assert.equal(joiningInitialCluster(list, { name: 'controller-3', ip: '10.240.0.12' }), [
    { name: 'controller-1', ip: '10.240.0.10' },
    { name: 'controller-2', ip: '10.240.0.11' },
    { name: 'controller-3', ip: '10.240.0.12' },
  ]);
  const health = 'https://10.240.0.10:2379 is healthy: successfully committed proposal: took = 2.1ms\nhttps://10.240.0.11:2379 is unhealthy: failed to commit proposal: context deadline exceeded\nError: unhealthy cluster';
  // What etcdctl 3.6.17 printed for a one-member etcd 3.6.17 here (`endpoint status -w json`): its own leader.
  const leader = '[{"Endpoint":"http://127.0.0.1:23790","Status":{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":1,"raft_term":2},"version":"3.6.17","dbSize":20480,"leader":10276657743932975437,"raftIndex":4,"raftTerm":2,"raftAppliedIndex":4,"dbSizeInUse":16384,"storageVersion":"3.6.0","dbSizeQuota":2147483648,"downgradeInfo":{}}}]';
  assert.ok(statusSaysLeader(leader));
  // A follower: another member's ID as leader, one that differs from its own only past double precision.
  assert.not.ok(statusSaysLeader(leader.replace('"leader":10276657743932975437', '"leader":10276657743932975438')));
  assert.not.ok(statusSaysLeader('Error: context deadline exceeded'));
  assert.equal(membershipState(list.slice(0, 2), health).members, [{ name: 'controller-1', healthy: true }, { name: 'controller-2', healthy: false }]);
});

test('a membership change etcd calls "unhealthy cluster" (the member asked has not been connected to every voter for 5 s yet) is asked again until it passes; other refusals fail at once, with what etcd said', async () => {
  const node = new FakeNode('harder-controller-1');
  let refusals = 2;
  node.onExec = (argv) => {
    if (!argv.includes('member')) return undefined;
    if (argv.includes('add') && refusals-- > 0) return { stdout: Buffer.alloc(0), stderr: Buffer.from('{"level":"warn"}\nError: etcdserver: unhealthy cluster\n'), exitCode: 1 };
    if (argv.includes('add')) return { stdout: Buffer.from('Member 8e9e05c52164694d added to cluster\n'), stderr: Buffer.alloc(0), exitCode: 0 };
    return { stdout: Buffer.alloc(0), stderr: Buffer.from('Error: etcdserver: member not found\n'), exitCode: 1 };
  };
  const added = await etcdctlOn(node, ['member', 'add', 'controller-2', '--peer-urls=https://10.240.0.11:2380', '--learner'], undefined, undefined, { forMs: 5000, everyMs: 1 });
  assert.match(added.stdout.toString('utf8'), /added to cluster/);
  assert.is(node.execs.filter((e) => e.argv.includes('add')).length, 3);
  const removal = await etcdctlOn(node, ['member', 'remove', '8e9e05c52164694d'], undefined, undefined, { forMs: 5000, everyMs: 1 }).then(() => undefined, (e: Error) => e);
  assert.match(removal?.message ?? 'no error', /etcdctl member remove 8e9e05c52164694d on harder-controller-1 failed \(exit 1\): Error: etcdserver: member not found/);
  assert.is(node.execs.filter((e) => e.argv.includes('remove')).length, 1);
  // Still unhealthy when the bound is over: the refusal is the error.
  refusals = 1_000;
  const late = await etcdctlOn(node, ['member', 'add', 'controller-3', '--peer-urls=https://10.240.0.12:2380', '--learner'], undefined, undefined, { forMs: 20, everyMs: 1 }).then(() => undefined, (e: Error) => e);
  assert.match(late?.message ?? 'no error', /etcdctl member add controller-3 .* failed \(exit 1\): .*etcdserver: unhealthy cluster/);
});

test('quorum: ⌊n/2⌋+1; a change that would leave fewer healthy members than that is refused, naming them', () => {
  assert.equal([1, 2, 3, 4, 5].map(quorum), [1, 2, 2, 3, 3]);
  const state = (...healthy: boolean[]) => ({ members: healthy.map((h, i) => ({ name: `controller-${i + 1}`, healthy: h })) });
  assert.is(quorumProblem(state(true), { adding: ['controller-2', 'controller-3'], removing: [] }), undefined);
  assert.is(quorumProblem(state(true, true, true), { adding: [], removing: ['controller-3', 'controller-2'] }), undefined);
  // controller-2 stopped: removing controller-3 leaves two members of which one is healthy.
  assert.match(quorumProblem(state(true, false, true), { adding: [], removing: ['controller-3'] })!, /removing controller-3 would leave 2 members \(controller-1, controller-2\) of which 1 is healthy \(not: controller-2\), and 2 members need 2/);
  // etcd lists members by ID: the message names them in name order all the same.
  const byId = { members: [{ name: 'controller-3', healthy: true }, { name: 'controller-2', healthy: false }, { name: 'controller-1', healthy: true }] };
  assert.match(quorumProblem(byId, { adding: [], removing: ['controller-3'] })!, /\(controller-1, controller-2\) of which 1 is healthy/);
  // Removing the stopped one itself is fine: the two left are healthy.
  assert.is(quorumProblem(state(true, false, true), { adding: [], removing: ['controller-2'] }), undefined);
  assert.match(quorumProblem(state(true, false, false), { adding: [], removing: ['controller-3'] })!, /no quorum now: 1 of its 3 members are healthy/);
});

test.run();
