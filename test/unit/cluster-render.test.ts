// Renderers of the cluster step: every config file parses with a real YAML/TOML/JSON parser and agrees
// with the IP plan and the other components (cgroup driver, CIDRs, members, routes).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { defaultConfig, defaultNodes, type ClusterConfig } from '../../tasks/config/config.ts';
import { planIps, parseCidr, cidrsOverlap } from '../../tasks/net/ip-plan.ts';
import type { Json } from '../../lib/engine/target.ts';
import { toYaml, toYamlDocuments } from '../../tasks/cluster/render/yaml.ts';
import { renderUnit } from '../../tasks/cluster/render/systemd.ts';
import { renderEtcdBootstrapEnv, renderEtcdUnit } from '../../tasks/cluster/render/etcd.ts';
import { renderApiServerUnit, renderControllerManagerUnit, renderSchedulerConfig, renderSchedulerUnit } from '../../tasks/cluster/render/control-plane.ts';
import { renderContainerdConfig } from '../../tasks/cluster/render/containerd.ts';
import { workerPaths } from '../../tasks/cluster/layout.ts';
import { renderCniBridge, renderCniLoopback } from '../../tasks/cluster/render/cni.ts';
import { kubeletConfig, renderKubeletConfig, renderKubeletUnit } from '../../tasks/cluster/render/kubelet.ts';
import { renderKubeProxyConfig } from '../../tasks/cluster/render/kube-proxy.ts';
import { renderKubeletPrepareUnit, renderRoutesUnit, renderSysctlConf, upstreamResolvers, KUBELET_KERNEL_EXPECTATIONS } from '../../tasks/cluster/render/node-system.ts';
import { apiserverToKubeletRbac, coreDnsManifests, renderCorefile } from '../../tasks/cluster/render/addons.ts';
import { podRoutesFor } from '../../tasks/cluster/node-system.ts';
import { CGROUP_DRIVER } from '../../tasks/cluster/workers.ts';

/**
 * Debian's python3 (with python3-yaml from .ci/run); a python3 earlier on PATH (pyenv, a venv) may lack
 * PyYAML. tomllib needs Python 3.11, which bookworm ships.
 */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** Parses with PyYAML (a real, independent YAML parser) and returns the documents as JSON. */
function parseYaml(text: string): unknown[] {
  const out = execFileSync(PYTHON, ['-c', 'import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))'], { input: text });
  return JSON.parse(out.toString()) as unknown[];
}

function parseToml(text: string): Record<string, any> {
  const out = execFileSync(PYTHON, ['-c', 'import sys, json, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))'], { input: text });
  return JSON.parse(out.toString());
}

/** The argv of a unit's ExecStart (continuation lines joined). */
function execStart(unit: string): string[] {
  const joined = unit.replace(/ \\\n\s*/g, ' ');
  const line = joined.split('\n').find((l) => l.startsWith('ExecStart='))!;
  return line.slice('ExecStart='.length).split(' ');
}

function flag(argv: string[], name: string): string | undefined {
  const hit = argv.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}

const threeByThree: ClusterConfig = { ...defaultConfig, nodes: defaultNodes({ controlPlanes: 3, workers: 3 }) };

test('toYaml round-trips awkward values through a real YAML parser', () => {
  const value: Json = {
    plain: 'a/b.c:d',
    looksBool: 'yes',
    looksNumber: '10',
    colonSpace: 'a: b',
    empty: '',
    n: 3,
    t: true,
    nil: null,
    list: [1, 'two', { x: 1, y: [] }, [['nested']], {}],
    map: { 'key with space': 'v', 'dotted.key': { deep: 'x' } },
    multi: 'line one\n\nline three\n',
  };
  assert.equal(parseYaml(toYaml(value)), [value]);
  assert.equal(parseYaml(toYamlDocuments([{ a: 1 }, { b: [2] }])), [{ a: 1 }, { b: [2] }]);
});

test('kubelet config: secure defaults, matching cgroup driver, overrides merged last', () => {
  const plan = planIps(defaultConfig);
  const w = plan.nodes.find((n) => n.name === 'worker-1')!;
  const params = { nodeName: w.name, nodeIp: w.ip, clusterDnsIp: plan.clusterDnsIp, clusterDomain: 'cluster.local', cgroupDriver: CGROUP_DRIVER };
  const [parsed] = parseYaml(renderKubeletConfig(params)) as Record<string, any>[];
  assert.equal(parsed!.kind, 'KubeletConfiguration');
  assert.equal(parsed!.authentication.anonymous.enabled, false);
  assert.equal(parsed!.authentication.webhook.enabled, true);
  assert.equal(parsed!.authorization.mode, 'Webhook');
  assert.equal(parsed!.clusterDNS, ['10.32.0.10']);
  assert.equal(parsed!.imageGCHighThresholdPercent, 100);
  assert.ok(parsed!.imageGCLowThresholdPercent < 100);
  assert.equal(parsed!.protectKernelDefaults, true);
  assert.equal(parsed!.failSwapOn, false);
  assert.equal(parsed!.cgroupDriver, 'systemd');
  assert.equal(kubeletConfig({ ...params, overrides: { maxPods: 50 } }).maxPods, 50);
  const unit = execStart(renderKubeletUnit({ nodeName: w.name, nodeIp: w.ip }));
  assert.equal(flag(unit, 'node-ip'), w.ip);
  assert.equal(flag(unit, 'hostname-override'), 'worker-1');
});

test('containerd config parses as TOML and agrees with kubelet (cgroup driver, sandbox image, CNI dirs)', () => {
  const toml = parseToml(renderContainerdConfig({ sandboxImage: 'registry.k8s.io/pause:3.10.1', cgroupDriver: CGROUP_DRIVER, snapshotter: 'overlayfs' }));
  assert.equal(toml.version, 2);
  const cri = toml.plugins['io.containerd.grpc.v1.cri'];
  assert.equal(cri.sandbox_image, 'registry.k8s.io/pause:3.10.1');
  assert.equal(cri.tolerate_missing_hugepages_controller, true);
  assert.equal(cri.containerd.runtimes.runc.options.SystemdCgroup, CGROUP_DRIVER === 'systemd');
  assert.equal(cri.cni.bin_dir, '/usr/lib/cni');
  assert.equal(cri.cni.conf_dir, '/etc/cni/net.d');
  const cgroupfs = parseToml(renderContainerdConfig({ sandboxImage: 'p', cgroupDriver: 'cgroupfs', snapshotter: 'native' }));
  assert.equal(cgroupfs.plugins['io.containerd.grpc.v1.cri'].containerd.runtimes.runc.options.SystemdCgroup, false);
});

test('CNI bridge subnets are the planned pod CIDRs: inside clusterCidr, disjoint, cniVersion the plugins support', () => {
  const plan = planIps(threeByThree);
  const workers = plan.nodes.filter((n) => n.role === 'worker');
  type Plugin = { type: string; ipam?: { ranges: { subnet: string }[][] }; capabilities?: Record<string, boolean> };
  const lists = workers.map((w) => JSON.parse(renderCniBridge(w.podCidr!)) as { cniVersion: string; plugins: Plugin[] });
  lists.forEach((c, i) => {
    assert.equal(c.cniVersion, '1.0.0');
    // A network list: the bridge first (it makes the interface), then portmap, which containerd hands hostPorts to.
    assert.equal(c.plugins.map((p) => p.type), ['bridge', 'portmap']);
    assert.equal(c.plugins[1]!.capabilities, { portMappings: true });
    const bridge = c.plugins[0]!;
    assert.equal(bridge.ipam!.ranges[0]![0]!.subnet, workers[i]!.podCidr);
    assert.ok(cidrsOverlap(bridge.ipam!.ranges[0]![0]!.subnet, threeByThree.clusterCidr));
  });
  for (let i = 0; i < workers.length; i++) for (let j = i + 1; j < workers.length; j++) assert.not.ok(cidrsOverlap(workers[i]!.podCidr!, workers[j]!.podCidr!));
  assert.equal(JSON.parse(renderCniLoopback()).type, 'loopback');
  // containerd parses a file as a list only by its .conflist name, and uses the first file by name.
  assert.ok(workerPaths.cniBridge.endsWith('.conflist') && workerPaths.cniBridge < workerPaths.cniLoopback);
});

test('routes: each node routes every other worker pod CIDR via that worker, never its own', () => {
  const plan = planIps(threeByThree);
  for (const node of plan.nodes) {
    const routes = podRoutesFor({ plan }, node.name);
    const expected = plan.nodes.filter((n) => n.podCidr && n.name !== node.name);
    assert.equal(routes, expected.map((n) => ({ podCidr: n.podCidr!, via: n.ip })));
    const unit = renderRoutesUnit(routes)!.replace(/ \\\n\s*/g, ' ');
    for (const r of routes) assert.ok(unit.includes(`ip route replace ${r.podCidr} via ${r.via}`), unit);
  }
  assert.is(renderRoutesUnit([]), null);
});

test('etcd unit: one member per control plane, TLS everywhere, no membership in it (the bootstrap file has it)', () => {
  const plan = planIps(threeByThree);
  const members = plan.nodes.filter((n) => n.role === 'control-plane').map((n) => ({ name: n.name, ip: n.ip }));
  for (const member of members) {
    const text = renderEtcdUnit({ member, clusterToken: 'harder-etcd' });
    const argv = execStart(text);
    assert.equal(argv[0], '/usr/local/bin/etcd');
    assert.equal(flag(argv, 'name'), member.name);
    assert.equal(flag(argv, 'listen-client-urls'), `https://${member.ip}:2379,https://127.0.0.1:2379`);
    assert.equal(flag(argv, 'initial-advertise-peer-urls'), `https://${member.ip}:2380`);
    assert.equal(flag(argv, 'client-cert-auth'), 'true');
    assert.equal(flag(argv, 'peer-client-cert-auth'), 'true');
    // Read by etcd only with an empty data directory, and different for a member joining later: not in the unit.
    assert.is(flag(argv, 'initial-cluster'), undefined);
    assert.is(flag(argv, 'initial-cluster-state'), undefined);
    assert.ok(text.includes('EnvironmentFile=-/etc/etcd/bootstrap.env\n'), text);
  }
  const env = renderEtcdBootstrapEnv({ state: 'existing', initialCluster: members.slice(0, 2) });
  assert.equal(env.split('\n').filter((l) => l.startsWith('ETCD_')), [
    `ETCD_INITIAL_CLUSTER=${members[0]!.name}=https://${members[0]!.ip}:2380,${members[1]!.name}=https://${members[1]!.ip}:2380`,
    'ETCD_INITIAL_CLUSTER_STATE=existing',
  ]);
});

test('apiserver and controller-manager flags agree with the plan (service range holds the kubernetes IP, CIDRs, endpoint routing)', () => {
  const plan = planIps(threeByThree);
  const cps = plan.nodes.filter((n) => n.role === 'control-plane');
  const api = execStart(
    renderApiServerUnit({ advertiseAddress: cps[0]!.ip, port: 6443, etcdServers: ['https://127.0.0.1:2379'], serviceCidr: threeByThree.serviceCidr, serviceAccountIssuer: 'https://x', frontProxy: { allowedNames: ['front-proxy-client'] } }),
  );
  assert.equal(flag(api, 'service-cluster-ip-range'), threeByThree.serviceCidr);
  const range = parseCidr(threeByThree.serviceCidr);
  assert.ok(cidrsOverlap(`${plan.kubernetesServiceIp}/32`, `${threeByThree.serviceCidr}`) && range.prefix === 24);
  assert.equal(flag(api, 'etcd-servers'), 'https://127.0.0.1:2379');
  assert.equal(flag(api, 'authorization-mode'), 'Node,RBAC');
  assert.equal(flag(api, 'advertise-address'), cps[0]!.ip);
  assert.is(flag(api, 'apiserver-count'), undefined);
  assert.equal(flag(api, 'requestheader-allowed-names'), 'front-proxy-client');
  // No kube-proxy runs on a control plane, so the apiserver must dial webhooks and aggregated APIs at their endpoints.
  assert.equal(flag(api, 'enable-aggregator-routing'), 'true');
  const noProxy = execStart(renderApiServerUnit({ advertiseAddress: '1.2.3.4', port: 6443, etcdServers: ['https://127.0.0.1:2379'], serviceCidr: '10.32.0.0/24', serviceAccountIssuer: 'https://x' }));
  assert.is(flag(noProxy, 'requestheader-client-ca-file'), undefined);
  const kcm = execStart(renderControllerManagerUnit({ clusterName: 'harder', clusterCidr: threeByThree.clusterCidr, serviceCidr: threeByThree.serviceCidr }));
  assert.equal(flag(kcm, 'cluster-cidr'), threeByThree.clusterCidr);
  assert.equal(flag(kcm, 'allocate-node-cidrs'), 'false');
  assert.equal(flag(kcm, 'service-cluster-ip-range'), threeByThree.serviceCidr);
  assert.equal(flag(kcm, 'use-service-account-credentials'), 'true');
});

test('scheduler and kube-proxy configs: current API versions, iptables, no conntrack writes', () => {
  const [sched] = parseYaml(renderSchedulerConfig()) as Record<string, any>[];
  assert.equal(sched!.apiVersion, 'kubescheduler.config.k8s.io/v1');
  assert.equal(sched!.leaderElection.leaderElect, true);
  const [proxy] = parseYaml(renderKubeProxyConfig({ nodeName: 'worker-1', clusterCidr: '10.200.0.0/16' })) as Record<string, any>[];
  assert.equal(proxy!.mode, 'iptables');
  assert.equal(proxy!.clusterCIDR, '10.200.0.0/16');
  assert.equal(proxy!.conntrack, { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' });
});

test('node sysctls are namespaced ones only; kubelet sees its expected kernel values through read-only binds', () => {
  assert.equal(renderSysctlConf().split('\n').filter((l) => l.includes('=')).map((l) => l.split(' = ')[0]), ['net.ipv4.ip_forward', 'net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables']);
  const unit = renderKubeletPrepareUnit();
  for (const key of Object.keys(KUBELET_KERNEL_EXPECTATIONS)) {
    assert.ok(unit.includes(`/proc/sys/${key}`), key);
    assert.ok(unit.includes(`ExecStartPre=-umount /proc/sys/${key}`), key);
  }
  assert.ok(unit.includes('--bind -o ro'));
});

test('systemd units: one flag per continued line, arguments needing quotes are quoted', () => {
  const text = renderUnit({ description: 'd', service: { Restart: 'on-failure', Environment: ['A=1', 'B=2'] }, exec: { path: '/bin/x', flags: { a: 1, b: ['x', 'y'], skip: undefined }, args: ['has space'] } });
  assert.ok(text.includes('ExecStart=/bin/x \\\n  --a=1 \\\n  --b=x,y \\\n  "has space"'));
  assert.ok(text.includes('Environment=A=1\nEnvironment=B=2'));
  assert.not.ok(text.includes('skip'));
});

/** The space-separated values of a [Unit] key (`After=`, `Wants=`, `Requires=`). */
function unitList(unit: string, key: string): string[] {
  return unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .flatMap((l) => l.slice(key.length + 1).split(' '));
}

test('units order themselves after what they need on the same node (boot after `docker restart`)', () => {
  const api = renderApiServerUnit({ advertiseAddress: '10.0.0.10', port: 6443, etcdServers: ['https://127.0.0.1:2379'], serviceCidr: '10.32.0.0/24', serviceAccountIssuer: 'https://x' });
  assert.ok(unitList(api, 'After').includes('etcd.service'), api);
  assert.ok(unitList(api, 'Wants').includes('etcd.service'), api);
  // Wants, not Requires: stopping etcd leaves the apiserver running (not ready until its member is back).
  assert.not.ok(unitList(api, 'Requires').includes('etcd.service'), api);
  const kcm = renderControllerManagerUnit({ clusterName: 'harder', clusterCidr: '10.200.0.0/16', serviceCidr: '10.32.0.0/24' });
  for (const [name, unit] of [['kube-controller-manager', kcm], ['kube-scheduler', renderSchedulerUnit()]] as const) {
    assert.ok(unitList(unit, 'After').includes('kube-apiserver.service'), `${name}:\n${unit}`);
    assert.ok(unitList(unit, 'Wants').includes('kube-apiserver.service'), `${name}:\n${unit}`);
    // Ordering only: a restarted apiserver must not restart them (no BindsTo/PartOf/Requires).
    assert.not.match(unit, /^(BindsTo|PartOf|Requires)=.*kube-apiserver/m, name);
  }
  const kubelet = renderKubeletUnit({ nodeName: 'worker-1', nodeIp: '10.0.0.20' });
  assert.ok(unitList(kubelet, 'After').includes('containerd.service'), kubelet);
  assert.ok([...unitList(kubelet, 'Wants'), ...unitList(kubelet, 'Requires')].includes('containerd.service'), kubelet);
});

test('add-ons: RBAC binds the apiserver kubelet-client user; CoreDNS Service at the DNS IP, image never pulled', () => {
  const rbac = parseYaml(toYamlDocuments(apiserverToKubeletRbac('kube-apiserver-kubelet-client'))) as any[];
  assert.equal(rbac[1].subjects[0].name, 'kube-apiserver-kubelet-client');
  assert.ok(rbac[0].rules[0].resources.includes('nodes/proxy'));
  const docs = parseYaml(toYamlDocuments(coreDnsManifests({ image: 'coredns:x', clusterDnsIp: '10.32.0.10', clusterDomain: 'cluster.local', upstreams: [], replicas: 2 }))) as any[];
  const svc = docs.find((d) => d.kind === 'Service');
  assert.equal(svc.spec.clusterIP, '10.32.0.10');
  assert.equal(svc.metadata.name, 'kube-dns');
  const deploy = docs.find((d) => d.kind === 'Deployment');
  assert.equal(deploy.spec.template.spec.containers[0].imagePullPolicy, 'Never');
  const cm = docs.find((d) => d.kind === 'ConfigMap');
  assert.ok(cm.data.Corefile.includes('kubernetes cluster.local in-addr.arpa ip6.arpa'));
  assert.not.ok(renderCorefile({ clusterDomain: 'cluster.local', upstreams: [] }).includes('forward'));
  assert.ok(renderCorefile({ clusterDomain: 'cluster.local', upstreams: ['10.0.0.2'] }).includes('forward . 10.0.0.2'));
  assert.equal(upstreamResolvers('nameserver 127.0.0.11\nnameserver 10.255.255.53\n# x\nnameserver ::1\n'), ['10.255.255.53']);
});

test.run();
