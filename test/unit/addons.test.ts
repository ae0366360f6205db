// The add-on framework without a cluster: the `addons` spec field (defaults, merging, every shape problem
// named), the LoadBalancer pool in the IP plan and its checks, the Docker reservation of the pool, the
// graph each setting makes (the add-on's targets, or its removal, under `cluster`), the labelling and the
// removal's reach (a recording kubectl), and how upstream's MetalLB manifest is changed for this cluster.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfigFields, defaultConfig, type ClusterConfig } from '../../tasks/config/config.ts';
import { configFromFlags } from '../../tasks/config/options.ts';
import { ipPlanProblems, planIps, poolAddresses } from '../../tasks/net/ip-plan.ts';
import { defaultAddons, mergeAddons, noAddons } from '../../tasks/addons/spec.ts';
import { ADDON_LABEL, checkRemovable, labelled, removeObjects, type KubeObject } from '../../tasks/addons/objects.ts';
import { clusterObjects, poolObjects } from '../../tasks/addons/metallb/manifests.ts';
import { auxiliaryAddresses, reservesAll } from '../../lib/docker/networks.ts';
import { projectTargets } from '../../tasks/index.ts';
import type { Kubectl } from '../../tasks/cluster/kubectl.ts';

const config = (over: Partial<ClusterConfig>): ClusterConfig => ({ ...defaultConfig, ...over });
/** MetalLB on unless told, with these settings. */
const withMetallb = (metallb: Partial<ClusterConfig['addons']['metallb']>): ClusterConfig => config({ addons: { ...defaultAddons(), metallb: { ...defaultAddons().metallb, enabled: true, ...metallb } } });
const poolFaults = (c: ClusterConfig) => ipPlanProblems(c).filter((p) => p.field === 'addons.metallb.pool');

test('addons: a spec names only what it changes; the rest keep their defaults', () => {
  assert.equal(defaultConfig.addons, { metallb: { enabled: true, pool: '' }, ingress: { enabled: false, domain: '' }, 'metrics-server': { enabled: false } });
  const dir = mkdtempSync(join(tmpdir(), 'harder-addons-'));
  try {
    const file = join(dir, 'spec.json');
    writeFileSync(file, JSON.stringify({ addons: { metallb: { enabled: false } } }));
    assert.equal(configFromFlags({ config: file }, dir, { cwd: dir }).addons, { metallb: { enabled: false, pool: '' }, ingress: { enabled: false, domain: '' }, 'metrics-server': { enabled: false } });
    writeFileSync(file, JSON.stringify({ addons: noAddons() }));
    assert.equal(configFromFlags({ config: file }, dir, { cwd: dir }).addons.metallb.enabled, false, 'noAddons switches every add-on off');
    // Every problem is one line naming the file and the field.
    writeFileSync(file, JSON.stringify({ addons: { metalb: {}, metallb: { enabled: 'no', color: 'red' } } }));
    let message = '';
    try {
      configFromFlags({ config: file }, dir, { cwd: dir });
    } catch (error) {
      message = (error as Error).message;
    }
    assert.match(message, `${file}: addons.metalb: is not an add-on; the add-ons are metallb`);
    assert.match(message, `${file}: addons.metallb.enabled: is a string ("no"), not a boolean`);
    assert.match(message, `${file}: addons.metallb.color: is not a setting of metallb; metallb has enabled, pool`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(mergeAddons([]).problems.map((p) => p.field), ['addons']);
  assert.equal(mergeAddons({ metallb: true }).problems.map((p) => p.field), ['addons.metallb']);
});

test('the pool: planned as the top of nodeSubnet but its broadcast address, or as written; Docker reserves each address', () => {
  const planned = planIps(withMetallb({})).loadBalancerPool!;
  assert.equal(planned, { first: '10.240.0.240', last: '10.240.0.254', size: 15 });
  assert.is(poolAddresses(planned).length, 15);
  assert.is(poolAddresses(planned)[14], '10.240.0.254');
  assert.equal(planIps(withMetallb({ pool: '10.240.0.100/30' })).loadBalancerPool, { first: '10.240.0.100', last: '10.240.0.103', size: 4 });
  assert.equal(planIps(withMetallb({ pool: '10.240.0.200-10.240.0.209' })).loadBalancerPool, { first: '10.240.0.200', last: '10.240.0.209', size: 10 });
  // Planned whether MetalLB is on or off: switching it never changes the network's reservation.
  assert.equal(planIps(withMetallb({ enabled: false })).loadBalancerPool, planned);
  const aux = auxiliaryAddresses(poolAddresses(planned));
  assert.is(Object.keys(aux).length, 15);
  assert.is(aux['reserved-10-240-0-240'], '10.240.0.240');
  const network = (addresses: Record<string, string>) => ({ IPAM: { Config: [{ Subnet: '10.240.0.0/24', AuxiliaryAddresses: addresses }] } });
  assert.ok(reservesAll(network(aux), poolAddresses(planned)));
  assert.not.ok(reservesAll(network({}), poolAddresses(planned)), 'a network made before the pool');
});

test('the pool is refused, naming addons.metallb.pool, off the subnet, on a reserved or a node\'s address, or malformed', () => {
  for (const [pool, problem] of [
    ['10.241.0.240/28', /is not inside nodeSubnet 10\.240\.0\.0\/24/],
    ['10.240.0.0/28', /holds 10\.240\.0\.0 \(the network address\), 10\.240\.0\.1 \(the gateway\), 10\.240\.0\.2 \(the API endpoint\), 10\.240\.0\.10 \(node controller-1\)/],
    ['10.240.0.240/28', /holds 10\.240\.0\.255 \(the broadcast address\)/],
    ['10.240.0.15-10.240.0.25', /holds 10\.240\.0\.20 \(node worker-1\), 10\.240\.0\.21 \(node worker-2\)/],
    ['10.240.0.250-10.240.0.240', /ends before it starts/],
    ['10.240.0.241/28', /has host bits set/],
    ['lots', /is neither a CIDR nor a range/],
  ] as const) {
    const faults = poolFaults(withMetallb({ pool }));
    assert.is(faults.length, 1, `${pool}: ${JSON.stringify(ipPlanProblems(withMetallb({ pool })))}`);
    assert.match(faults[0]!.problem, problem, pool);
    assert.match(faults[0]!.valid, /10\.240\.0\.240-10\.240\.0\.254/, `${pool}: the suggestion is the planned pool`);
    assert.not.ok(poolFaults(withMetallb({ pool: '10.240.0.240-10.240.0.254' })).length);
  }
  // Workers placed at the top of the subnet meet the planned pool: a problem with MetalLB on, no pool with it off.
  const top = { workerIpStart: 250 };
  assert.match(poolFaults({ ...withMetallb({}), ...top })[0]!.problem, /the planned pool 10\.240\.0\.240-10\.240\.0\.254 holds 10\.240\.0\.250 \(node worker-1\)/);
  assert.equal(poolFaults({ ...withMetallb({ enabled: false }), ...top }), []);
  assert.is(planIps({ ...withMetallb({ enabled: false }), ...top }).loadBalancerPool, null);
});

test('SSH machines: no pool is planned; MetalLB stays off with a warning until a pool is named', () => {
  const machines: ClusterConfig['machines'] = [
    { name: 'controller-1', role: 'control-plane', address: '192.168.64.10', user: 'root' },
    { name: 'worker-1', role: 'worker', address: '192.168.64.20', user: 'root' },
  ];
  const onMachines = (pool: string) => ({ ...withMetallb({ pool }), machines, nodes: machines.map((m) => ({ name: m.name, role: m.role })), nodeSubnet: '192.168.64.0/24' });
  const bare = onMachines('');
  assert.is(planIps(bare).loadBalancerPool, null);
  assert.equal(checkConfigFields(bare).warnings.map((w) => w.field), ['addons.metallb.pool']);
  const names = projectTargets(bare).map((t) => t.name);
  assert.ok(names.includes('addon:metallb:remove') && !names.includes('addon:metallb'), names.filter((n) => n.startsWith('addon')).join(' '));
  const named = onMachines('192.168.64.240-192.168.64.245');
  assert.equal(checkConfigFields(named).warnings, []);
  assert.ok(projectTargets(named).some((t) => t.name === 'addon:metallb'));
  assert.match(poolFaults(onMachines('192.168.64.18-192.168.64.22'))[0]!.problem, /holds 192\.168\.64\.20 \(node worker-1\)/);
});

test('the graph: MetalLB on is its build, images, one load per worker and addon:metallb under cluster; off is only its removal', () => {
  const on = projectTargets(withMetallb({}));
  const byName = new Map(on.map((t) => [t.name, t]));
  for (const name of ['bin:metallb', 'image:metallb-controller', 'image:metallb-speaker', 'load:metallb-speaker@worker-1', 'load:metallb-controller@worker-2', 'addon:metallb']) assert.ok(byName.has(name), name);
  assert.ok(byName.get('cluster')!.deps['addon:metallb'], 'cluster depends on addon:metallb');
  assert.ok(byName.get('load:metallb-speaker@worker-1')!.deps['runtime'], 'loads wait for the node\'s containerd');
  assert.ok(byName.get('addon:metallb')!.deps['load:metallb-speaker@worker-2'], 'applied once every worker has the images');
  assert.not.ok(byName.has('addon:metallb:remove'));
  const off = projectTargets(withMetallb({ enabled: false }));
  const offNames = off.map((t) => t.name);
  assert.equal(offNames.filter((n) => /metallb/.test(n)), ['addon:metallb:remove']);
  assert.ok(off.find((t) => t.name === 'cluster')!.deps['addon:metallb:remove']);
  // The pool is the network's input either way, so switching MetalLB does not touch the network.
  const key = (targets: typeof on) => JSON.stringify(targets.find((t) => t.name === 'net:network')!.inputs);
  assert.is(key(on), key(off));
  assert.match(key(on), /10\.240\.0\.240-10\.240\.0\.254/);
});

test('objects are labelled with their add-on; an object removal would miss is refused before anything is applied', () => {
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'metallb-system', labels: { a: 'b' } } },
    { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'ipaddresspools.metallb.io' }, spec: { names: { kind: 'IPAddressPool' } } },
    { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'p', namespace: 'metallb-system' } },
  ];
  const out = labelled('metallb', objects);
  assert.equal(out[0]!.metadata.labels, { a: 'b', [ADDON_LABEL]: 'metallb' });
  assert.equal(objects[0]!.metadata.labels, { a: 'b' }, 'the input is not changed');
  checkRemovable('metallb', out, ['Namespace', 'CustomResourceDefinition']);
  assert.throws(() => checkRemovable('metallb', [...out, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'x' } }], ['Namespace', 'CustomResourceDefinition']), /Secret\/x\/s, whose kind its removal does not delete/);
});

test('removal deletes the add-on\'s label of its kinds in every namespace, and reports what went', async () => {
  const calls: string[][] = [];
  const kubectl: Kubectl = async (args) => {
    calls.push(args);
    return { stdout: 'namespace "metallb-system" deleted\ncustomresourcedefinition.apiextensions.k8s.io "ipaddresspools.metallb.io" deleted', stderr: '', exitCode: 0 };
  };
  const deleted = await removeObjects(kubectl, 'metallb', ['Namespace', 'CustomResourceDefinition']);
  assert.equal(calls, [['delete', 'Namespace,CustomResourceDefinition', '--all-namespaces', '-l', 'harder.addon=metallb', '--ignore-not-found', '--wait=true', '--timeout=180s']]);
  assert.is(deleted.length, 2);
});

test('upstream\'s MetalLB manifest for this cluster: no webhook, local images never pulled, the pool and its L2 announcement', () => {
  // A manifest of the shape of config/manifests/metallb-native.yaml (the parts this change reads).
  const upstream: KubeObject[] = [
    { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'bgppeers.metallb.io' }, spec: { conversion: { strategy: 'Webhook' }, names: { kind: 'BGPPeer' } } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'metallb-webhook-cert', namespace: 'metallb-system' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'metallb-webhook-service', namespace: 'metallb-system' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'controller', namespace: 'metallb-system' },
      spec: { template: { spec: { containers: [{ name: 'controller', image: 'quay.io/metallb/controller:v0', args: ['--port=7472'], ports: [{ name: 'monitoring' }, { name: 'webhook-server' }], volumeMounts: [{ name: 'cert' }] }], volumes: [{ name: 'cert' }] } } },
    },
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'speaker', namespace: 'metallb-system' }, spec: { template: { spec: { containers: [{ name: 'speaker', image: 'quay.io/metallb/speaker:v0' }] } } } },
    { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'metallb-webhook-configuration', creationTimestamp: null } },
  ];
  const objects = clusterObjects(upstream, { controller: 'c:1', speaker: 's:1' });
  assert.equal(objects.map((o) => `${o.kind}/${o.metadata.name}`), ['CustomResourceDefinition/bgppeers.metallb.io', 'Deployment/controller', 'DaemonSet/speaker']);
  assert.is((objects[0]!.spec as { conversion?: unknown }).conversion, undefined);
  const controller = (objects[1]!.spec as { template: { spec: { containers: Record<string, unknown>[]; volumes: unknown[] } } }).template.spec;
  assert.equal(controller.containers[0]!.args, ['--port=7472', '--webhook-mode=disabled']);
  assert.equal(controller.containers[0]!.ports, [{ name: 'monitoring' }]);
  assert.equal(controller.volumes, []);
  assert.is(controller.containers[0]!.image, 'c:1');
  assert.is(controller.containers[0]!.imagePullPolicy, 'Never');
  assert.ok((upstream[3]!.spec as { template: { spec: { volumes: unknown[] } } }).template.spec.volumes.length, 'upstream is not changed');
  const pool = poolObjects({ first: '10.253.0.240', last: '10.253.0.254', size: 15 });
  assert.equal(pool.map((o) => [o.kind, o.spec]), [
    ['IPAddressPool', { addresses: ['10.253.0.240-10.253.0.254'] }],
    ['L2Advertisement', { ipAddressPools: ['harder-pool'] }],
  ]);
});

test.run();
