// The cluster config check (tasks/config/options.ts checkConfig = tasks/config/config.ts checkConfigFields + tasks/net/ip-plan.ts
// ipPlanProblems): one test per rule. Each says which field is at fault and, where the check proposes a
// value, that the proposal is itself valid — expectations come from what Kubernetes, Docker and etcd
// accept, not from the checker's wording.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultConfig, defaultNodes, type ClusterConfig, type ConfigProblem } from '../../tasks/config/config.ts';
import { IpPlanError, planIps } from '../../tasks/net/ip-plan.ts';
import { checkConfig } from '../../tasks/config/options.ts';

const config = (overrides: Partial<ClusterConfig>): ClusterConfig => ({ ...defaultConfig, ...overrides });
/** MetalLB off: a planned LoadBalancer pool that meets a node is then no problem (there is no pool). */
const METALLB_OFF: ClusterConfig['addons'] = { ...defaultConfig.addons, metallb: { enabled: false, pool: '' } };
const errors = (overrides: Partial<ClusterConfig>): ConfigProblem[] => checkConfig(config(overrides)).errors;
const fields = (overrides: Partial<ClusterConfig>): string[] => errors(overrides).map((p) => p.field);
const warnings = (overrides: Partial<ClusterConfig>): ConfigProblem[] => checkConfig(config(overrides)).warnings;

/** The single problem of this config, which must be about `field`. */
function only(overrides: Partial<ClusterConfig>, field: string): ConfigProblem {
  const found = errors(overrides);
  assert.equal(found.map((p) => p.field), [field], JSON.stringify(found));
  return found[0]!;
}

/** The `e.g. X` / `use X` value a problem proposes. */
function proposed(problem: ConfigProblem, pattern: RegExp): string {
  const match = pattern.exec(problem.valid);
  assert.ok(match, `no proposal matching ${pattern} in "${problem.valid}"`);
  return match[1]!;
}

test('the defaults and the usual variations are valid, with no warning', () => {
  assert.equal(checkConfig(defaultConfig), { errors: [], warnings: [] });
  assert.equal(checkConfig(config({ nodes: defaultNodes({ controlPlanes: 3, workers: 50 }) })), { errors: [], warnings: [] });
  assert.equal(errors({ clusterName: 'harder-ha', nodeSubnet: '10.244.0.0/24', apiServerPort: 1 }), []);
  assert.equal(errors({ apiServerPort: 65535 }), []);
});

test('serviceCidr overlapping clusterCidr (or nodeSubnet) is refused; separate ranges are fine', () => {
  const problem = only({ serviceCidr: '10.200.0.0/24', clusterDnsIp: '10.200.0.10' }, 'serviceCidr');
  assert.match(problem.problem, '10.200.0.0/16');
  assert.equal(fields({ nodeSubnet: '10.200.5.0/24' }), ['nodeSubnet']);
  assert.equal(fields({ nodeSubnet: '10.32.0.0/16' }), ['nodeSubnet']);
  // Adjacent, not overlapping.
  assert.equal(errors({ serviceCidr: '10.199.255.0/24', clusterDnsIp: '10.199.255.10' }), []);
});

test('a CIDR with host bits set names the network it probably meant, which is valid', () => {
  const problem = only({ serviceCidr: '10.32.0.1/24' }, 'serviceCidr');
  assert.is(proposed(problem, /use (\S+)/), '10.32.0.0/24');
  const subnet = only({ nodeSubnet: '10.240.0.128/16' }, 'nodeSubnet');
  assert.is(proposed(subnet, /use (\S+)/), '10.240.0.0/16');
  assert.equal(errors({ nodeSubnet: '10.240.0.0/16' }), []);
});

test('something that is not a CIDR at all is refused, with an example', () => {
  for (const text of ['10.32.0/24', '10.32.0.0', '10.32.0.0/33', '300.1.1.0/24', '']) {
    const problem = only({ clusterCidr: text }, 'clusterCidr');
    assert.match(problem.valid, /\d+\.\d+\.\d+\.\d+\/\d+/);
  }
});

test('a service range larger than kube-apiserver accepts (shorter than /12) is refused', () => {
  assert.equal(fields({ serviceCidr: '10.0.0.0/8', clusterDnsIp: '10.0.0.10', clusterCidr: '172.16.0.0/16', nodeSubnet: '192.168.0.0/24' }), ['serviceCidr']);
  assert.equal(errors({ serviceCidr: '10.32.0.0/12', clusterDnsIp: '10.32.0.10' }), []);
});

test('the DNS IP must be an allocatable address of the service range, not the kubernetes Service\'s', () => {
  const outside = only({ clusterDnsIp: '10.99.0.10' }, 'clusterDnsIp');
  const suggestion = proposed(outside, /e\.g\. (\S+)/);
  assert.equal(errors({ clusterDnsIp: suggestion }), [], `the proposed ${suggestion} is valid`);
  // The first address is the `kubernetes` Service's ClusterIP; the network and broadcast addresses are never allocated.
  for (const ip of ['10.32.0.0', '10.32.0.1', '10.32.0.255', '10.32.0', 'dns']) only({ clusterDnsIp: ip }, 'clusterDnsIp');
  assert.equal(errors({ clusterDnsIp: '10.32.0.2' }), []);
  assert.equal(errors({ clusterDnsIp: '10.32.0.254' }), []);
});

test('podCidrPrefix must carve clusterCidr into one range per worker', () => {
  only({ podCidrPrefix: 15 }, 'podCidrPrefix'); // larger than the /16 pod range
  only({ podCidrPrefix: 31 }, 'podCidrPrefix'); // no room for pods
  only({ podCidrPrefix: 24.5 }, 'podCidrPrefix');
  // A /23 pod range holds two /24s: two workers fit, three do not.
  assert.equal(errors({ clusterCidr: '10.200.0.0/23' }), []);
  const tight = only({ clusterCidr: '10.200.0.0/23', nodes: defaultNodes({ controlPlanes: 1, workers: 3 }) }, 'clusterCidr');
  const longer = Number(proposed(tight, /podCidrPrefix of (\d+)/));
  assert.is(longer, 25, 'four /25s fit in a /23');
  assert.equal(errors({ clusterCidr: '10.200.0.0/23', podCidrPrefix: longer, nodes: defaultNodes({ controlPlanes: 1, workers: 3 }) }), []);
});

test('node addresses must fit the node subnet, off its network, gateway and broadcast addresses', () => {
  // 10.240.0.0/24: .0 network, .1 gateway (the Docker bridge), .255 broadcast.
  only({ controlPlaneIpStart: 1 }, 'controlPlaneIpStart');
  only({ controlPlaneIpStart: 0 }, 'controlPlaneIpStart');
  only({ workerIpStart: 254 }, 'workerIpStart'); // two workers: .254 and .255
  // Nodes at the top of the subnet are where the planned LoadBalancer pool goes: valid with MetalLB off.
  assert.equal(errors({ workerIpStart: 253, addons: METALLB_OFF }), []);
  assert.equal(errors({ workerIpStart: 253, addons: { ...defaultConfig.addons, metallb: { enabled: true, pool: '' } } }).map((p) => p.field), ['addons.metallb.pool']);
  only({ workerIpStart: 20.5 }, 'workerIpStart');
  const past = only({ controlPlaneIpStart: 250, nodes: defaultNodes({ controlPlanes: 9, workers: 1 }) }, 'controlPlaneIpStart');
  const max = Number(proposed(past, /to (\d+)/));
  assert.is(max, 246, 'nine control planes from .246 end at .254');
  assert.equal(errors({ controlPlaneIpStart: max, nodes: defaultNodes({ controlPlanes: 9, workers: 1 }), addons: METALLB_OFF }), []);
  // A /29 has six host addresses, one of them the gateway: five nodes at most.
  assert.equal(fields({ nodeSubnet: '10.240.0.0/29', controlPlaneIpStart: 2, workerIpStart: 4, nodes: defaultNodes({ controlPlanes: 2, workers: 4 }) }), ['nodeSubnet']);
});

test('two nodes on one address (control-plane and worker ranges overlapping) is an IP clash', () => {
  const clash = only({ controlPlaneIpStart: 20 }, 'workerIpStart');
  assert.match(clash.problem, '10.240.0.20');
  const fix = Number(proposed(clash, /workerIpStart (\d+)/));
  assert.equal(errors({ controlPlaneIpStart: 20, workerIpStart: fix }), [], `workerIpStart ${fix} is valid`);
  only({ nodes: defaultNodes({ controlPlanes: 3, workers: 1 }), workerIpStart: 12 }, 'workerIpStart');
  assert.equal(errors({ nodes: defaultNodes({ controlPlanes: 3, workers: 1 }), workerIpStart: 13 }), []);
});

test('node names: DNS labels Kubernetes accepts, each used once, and at least one control plane', () => {
  const node = (name: string) => [{ name, role: 'control-plane' as const }];
  for (const bad of ['Controller-1', 'controller_1', '-a', 'a-', '', 'a.b', 'x'.repeat(64)]) only({ nodes: node(bad) }, 'nodes[0].name');
  assert.equal(errors({ nodes: node('x'.repeat(63)) }), []);
  assert.equal(errors({ nodes: node('1') }), []);
  const duplicate = only({ nodes: [{ name: 'a', role: 'control-plane' }, { name: 'b', role: 'worker' }, { name: 'a', role: 'worker' }] }, 'nodes[2].name');
  assert.match(duplicate.problem, 'nodes[0]');
  only({ nodes: [{ name: 'w', role: 'worker' }] }, 'nodes');
  only({ nodes: [] }, 'nodes');
});

test('apiServerPort is a TCP port: a whole number from 1 to 65535', () => {
  for (const port of [99999, 65536, -1, 0, 6443.5, Number.NaN]) only({ apiServerPort: port }, 'apiServerPort');
});

test('clusterName names the Docker network and prefixes container names: a non-empty DNS label', () => {
  for (const name of ['', 'Harder', 'my_cluster', 'my cluster', '-x', 'x'.repeat(64)]) only({ clusterName: name }, 'clusterName');
  assert.equal(errors({ clusterName: 'demo-2' }), []);
  assert.match(errors({ clusterName: '' })[0]!.problem, 'empty');
});

test('an even number of control planes is a warning, not an error: no more fault tolerance than one fewer', () => {
  for (const count of [2, 4, 6]) {
    const c = { nodes: defaultNodes({ controlPlanes: count, workers: 1 }) };
    assert.equal(errors(c), []);
    const found = warnings(c);
    assert.equal(found.map((w) => w.field), ['nodes']);
    // n etcd members survive floor((n-1)/2) failures: 2 survive 0 like 1 does, 4 survive 1 like 3 do.
    assert.match(found[0]!.problem, `tolerate ${Math.floor((count - 1) / 2)} failure`);
    assert.match(found[0]!.valid, String(count - 1));
    assert.match(found[0]!.valid, String(count + 1));
  }
  for (const count of [1, 3, 5]) assert.equal(warnings({ nodes: defaultNodes({ controlPlanes: count, workers: 1 }) }), []);
});

test('kubernetesVersion, clusterDomain, enums and kubeletOverrides are checked too', () => {
  only({ kubernetesVersion: '1.34.4' }, 'kubernetesVersion');
  only({ kubernetesVersion: 'v1.34' }, 'kubernetesVersion');
  only({ clusterDomain: 'Cluster.Local' }, 'clusterDomain');
  only({ clusterDomain: 'cluster..local' }, 'clusterDomain');
  assert.equal(errors({ clusterDomain: 'k8s.example.org' }), []);
  only({ binarySource: 'http' as never }, 'binarySource');
  only({ keyAlgorithm: 'dsa' as never }, 'keyAlgorithm');
  only({ kubeletOverrides: null as never }, 'kubeletOverrides');
  only({ kubeletOverrides: { 'worker-1': 50 } as never }, 'kubeletOverrides.worker-1');
  // An override for a node that is not a worker changes nothing: worth a warning.
  assert.equal(warnings({ kubeletOverrides: { 'worker-9': { maxPods: 50 } } }).map((w) => w.field), ['kubeletOverrides.worker-9']);
  assert.equal(checkConfig(config({ kubeletOverrides: { '*': { maxPods: 50 }, 'worker-2': {} } })), { errors: [], warnings: [] });
});

test('a kubernetesVersion whose minor has no pause/CoreDNS row is a config error naming the versions supported', () => {
  for (const version of ['v1.31.0', 'v1.35.0', 'v2.34.0']) {
    const problem = only({ kubernetesVersion: version }, 'kubernetesVersion');
    assert.match(problem.problem, `${version} is not supported`);
    assert.match(problem.valid, '1.32, 1.33, 1.34');
    assert.equal(errors({ kubernetesVersion: proposed(problem, /e\.g\. "([^"]+)"/) }), [], 'the proposed version is valid');
  }
  for (const version of ['v1.32.0', 'v1.33.9', 'v1.34.4']) assert.equal(errors({ kubernetesVersion: version }), [], version);
});

test('every problem is reported, not just the first', () => {
  const found = fields({ clusterName: '', apiServerPort: 0, serviceCidr: '10.200.0.0/24', nodes: [{ name: 'A', role: 'worker' }] });
  assert.equal([...found].sort(), ['apiServerPort', 'clusterDnsIp', 'clusterName', 'nodes', 'nodes[0].name', 'serviceCidr']);
});

test('planIps, for callers that skip the check, still refuses an invalid config naming the field', () => {
  assert.throws(() => planIps(config({ serviceCidr: '10.200.0.0/24' })), (e: unknown) => e instanceof IpPlanError && e.message.startsWith('serviceCidr: '));
  assert.is(planIps(defaultConfig).apiServerUrl, 'https://10.240.0.10:6443');
  assert.equal(planIps(defaultConfig).nodes.map((n) => [n.ip, n.podCidr]), [
    ['10.240.0.10', null],
    ['10.240.0.20', '10.200.0.0/24'],
    ['10.240.0.21', '10.200.1.0/24'],
  ]);
});

test.run();
