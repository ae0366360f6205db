// Types that survive step boundaries: a cluster target reading a field its dependency's result lacks does not compile; the IP plan is one object.
// The cluster step's inputs carry the real result types of the steps that produce them. `npm test` runs
// tsc first, and an unused @ts-expect-error is itself an error, so each expectation below is checked by
// the compiler; the runtime tests check that typed values flow through a build and that net:plan
// returns the very plan the graph was made with.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { target } from '../../lib/engine/target.ts';
import { build, tempProject } from '../fixtures/engine/helpers.ts';
import { defaultConfig } from '../../tasks/config/config.ts';
import { ipPlanTarget, planIps } from '../../tasks/net/ip-plan.ts';
import { nodesStep } from '../../tasks/nodes/index.ts';
import type { NodeContainer } from '../../tasks/nodes/containers.ts';
import { binariesTargets, type BinaryResult } from '../../tasks/binaries/index.ts';
import { etcdBinariesTargets } from '../../tasks/binaries/etcd.ts';
import { certsStep } from '../../tasks/certs/index.ts';
import type { EncryptionResult } from '../../tasks/certs/encryption.ts';
import { binaryOf, clusterContext, nodeTarget, type BinaryDep, type ClusterStepInputs, type EncryptionDep, type NodeDep } from '../../tasks/cluster/context.ts';
import { projectTargets } from '../../tasks/index.ts';
import { endpointStep } from '../../tasks/endpoint/index.ts';

const config = defaultConfig;
const plan = planIps(config);
const planTarget = ipPlanTarget(config, plan);

// The real steps' targets are accepted as the cluster step's inputs (tasks/index.ts wires them the same way).
const nodes = nodesStep(config, plan);
const bins = binariesTargets(config);
const etcdBins = etcdBinariesTargets(config);
const certs = certsStep(config, plan);
const endpoint = endpointStep(config, plan, { base: nodes.base, network: nodes.network });
const inputs: ClusterStepInputs = {
  config,
  plan,
  nodes: nodes.byNode,
  binaries: {
    'kube-apiserver': bins.kubeApiserver,
    'kube-controller-manager': bins.kubeControllerManager,
    'kube-scheduler': bins.kubeScheduler,
    kubelet: bins.kubelet,
    'kube-proxy': bins.kubeProxy,
    kubectl: bins.kubectl,
  },
  etcdBinaries: { etcd: etcdBins.etcd, etcdctl: etcdBins.etcdctl },
  pki: certs.pki,
  kubeconfigs: certs.kubeconfigs.byId,
  encryption: certs.encryption,
  endpoint: endpoint.config,
  images: { pause: 'pause', coredns: 'coredns', test: 'test', testPort: 8080, loads: () => planTarget },
};
const ctx = clusterContext(inputs);

// A cluster target over those inputs: each dependency's result has its producer's type.
target({
  name: 'check:typed-inputs',
  description: 'reads what its dependencies produce',
  deps: { node: nodeTarget(ctx, 'worker-1'), kubectl: binaryOf(ctx, 'kubectl'), encryption: ctx.encryption, plan: planTarget },
  build: async (b) => {
    const container: string = b.deps.node.container;
    const path: string = b.deps.kubectl.path;
    const provider: string = b.deps.encryption.provider;
    const url: string = b.deps.plan.apiServerUrl;
    // @ts-expect-error — a node's result has no `path`: that is a binary's field (a mix-up a cast used to hide)
    void b.deps.node.path;
    // @ts-expect-error — a binary's result has no `container`
    void b.deps.kubectl.container;
    // @ts-expect-error — the encryption result carries no key material, only its provider and key name
    void b.deps.encryption.secret;
    // @ts-expect-error — `ip` is a string, not a number
    const ip: number = b.deps.node.ip;
    void ip;
    return { container, path, provider, url };
  },
});

// @ts-expect-error — a node target cannot stand in for a binary: its result is a NodeContainer, not a BinaryResult
const notABinary: ClusterStepInputs['binaries']['kubectl'] = nodes.byNode['worker-1']!;
void notABinary;

test('typed results of other steps flow into a cluster target', async () => {
  const node: NodeDep = target({
    name: 'node:worker-1',
    description: 'a node',
    deps: {},
    build: async (): Promise<NodeContainer> => ({ name: 'worker-1', container: 'harder-worker-1', id: 'c0ffee', ip: '10.240.0.20', role: 'worker', image: 'harder-node:x', key: 'k' }),
  });
  const kubectl: BinaryDep = target({
    name: 'bin:kubectl',
    description: 'kubectl',
    deps: {},
    build: async (): Promise<BinaryResult> => ({ name: 'kubectl', version: 'v1.34.0', source: 'dir', path: '/cache/kubectl', sha256: 'ab' }),
  });
  const encryption: EncryptionDep = target({
    name: 'encryption:config',
    description: 'encryption',
    deps: {},
    build: async (): Promise<EncryptionResult> => ({ path: 'output/encryption/encryption-config.yaml', sha256: 'cd', provider: 'secretbox', keyName: 'key1' }),
  });
  const reader = target({
    name: 'check:reader',
    description: 'reads them',
    deps: { node, kubectl, encryption },
    build: async (b) => ({ where: `${b.deps.node.container}@${b.deps.node.ip}`, kubectl: b.deps.kubectl.path, prefix: `k8s:enc:${b.deps.encryption.provider}:v1:${b.deps.encryption.keyName}:` }),
  });
  const report = await build(tempProject('step-types'), { targets: [node, kubectl, encryption, reader], requested: ['check:reader'] });
  assert.equal(report.entries['check:reader']!.result, { where: 'harder-worker-1@10.240.0.20', kubectl: '/cache/kubectl', prefix: 'k8s:enc:secretbox:v1:key1:' });
});

test('net:plan returns the very plan the graph was made with, and the cluster step reads the same one', async () => {
  const result = await planTarget.build!({ deps: {}, root: '/nonexistent', outDir: '/nonexistent/output', signal: new AbortController().signal, log: () => {}, previous: undefined, reason: 'test' });
  assert.ok(result === plan, 'the same object, not a second computation');
  assert.ok(ctx.plan === plan);
});

test("every address in the project's graph comes from its one plan", async () => {
  const targets = projectTargets(config);
  const byName = new Map(targets.map((t) => [t.name, t]));
  const netPlan = byName.get('net:plan')!;
  const built = await netPlan.build!({ deps: {}, root: '/nonexistent', outDir: '/nonexistent/output', signal: new AbortController().signal, log: () => {}, previous: undefined, reason: 'test' });
  assert.equal(built, plan);
  const cps = plan.nodes.filter((n) => n.role === 'control-plane');
  for (const cp of cps) {
    assert.is(byName.get(`certs:kube-apiserver:${cp.name}`)!.inputs!.values!.nodeIp, cp.ip);
    assert.is(byName.get(`certs:kube-apiserver:${cp.name}`)!.inputs!.values!.kubernetesServiceIp, plan.kubernetesServiceIp);
  }
  for (const worker of plan.nodes.filter((n) => n.role === 'worker')) {
    assert.is(byName.get(`certs:kubelet-serving:${worker.name}`)!.inputs!.values!.nodeIp, worker.ip);
    assert.is(byName.get(`kubeconfig:kubelet:${worker.name}`)!.inputs!.values!.server, plan.apiServerUrl);
  }
});

test.run();
