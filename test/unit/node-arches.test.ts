// Nodes of another architecture than the build host's, without a network: the spec's `arch` field, the
// targets the graph gets for it (cross-built binaries, only those its nodes run), which binary each
// node installs, and that a spec without `arch` has the graph it always had.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../lib/errors.ts';
import { hostArch } from '../../lib/host-arch.ts';
import type { AnyTarget } from '../../lib/engine/target.ts';
import { configFromFlags } from '../../tasks/config/options.ts';
import { archSuffix, clusterArches, nodeArch } from '../../tasks/config/arches.ts';
import { cachedBinaryPath } from '../../tasks/binaries/index.ts';
import { projectTargets } from '../../tasks/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'harder-t-arches-'));
// The other architecture of the two a node may have, whichever this build host is.
const other = hostArch() === 'arm64' ? 'amd64' : 'arm64';
const machines = (serverArch?: string, workerArch?: string) => [
  { name: 'server', role: 'control-plane', address: '192.168.64.10', user: 'root', ...(serverArch ? { arch: serverArch } : {}) },
  { name: 'node-0', role: 'worker', address: '192.168.64.20', user: 'root', ...(workerArch ? { arch: workerArch } : {}) },
  { name: 'node-1', role: 'worker', address: '192.168.64.21', user: 'root' },
];
function config(fields: Record<string, unknown>) {
  const file = join(dir, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ nodeSubnet: '192.168.64.0/24', ...fields }));
  return configFromFlags({ config: file }, undefined, { warn: () => undefined });
}
const byName = (targets: AnyTarget[]) => new Map(targets.map((t) => [t.name, t]));
const depNames = (t: AnyTarget | undefined) => Object.values((t?.deps ?? {}) as Record<string, AnyTarget>).map((d) => d.name);

test('arch: amd64 or arm64; anything else is one problem naming the field and the values', () => {
  let problems: string[] = [];
  try {
    config({ machines: [{ ...machines()[0], arch: 'x86_64' }, ...machines().slice(1)] });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = error.facts.problems as string[];
  }
  assert.is(problems.length, 1, problems.join('\n'));
  assert.ok(problems[0]!.includes('machines[0].arch'), problems[0]);
  assert.ok(problems[0]!.includes('"x86_64" is not a node architecture'), problems[0]);
  assert.ok(problems[0]!.includes('use "amd64" or "arm64"'), problems[0]);
});

test('a node is its machine\'s arch, else the build host\'s; the build host\'s comes first, and only its targets lack a suffix', () => {
  const c = config({ machines: machines(other) });
  assert.is(nodeArch(c, 'server'), other);
  assert.is(nodeArch(c, 'node-0'), hostArch());
  assert.equal(clusterArches(c), [hostArch(), other]);
  assert.equal(clusterArches(c, 'worker'), [hostArch()]);
  assert.equal(clusterArches(c, 'control-plane'), [other]);
  assert.is(archSuffix(hostArch()), '');
  assert.is(archSuffix(other), `@${other}`);
});

test('without arch in the spec no target is cross-built, and the binaries keep the inputs and cache paths they had', () => {
  for (const c of [config({}), config({ machines: machines() })]) {
    const targets = projectTargets(c);
    assert.equal(targets.filter((t) => t.name.includes('@') && t.name.startsWith('bin:')), []);
    const t = byName(targets);
    assert.equal(t.get('bin:kubernetes')?.inputs?.values, { version: c.kubernetesVersion, binarySource: c.binarySource });
    assert.equal(Object.keys(t.get('bin:etcd')?.inputs?.values ?? {}), ['version', 'modules']);
  }
  assert.ok(cachedBinaryPath('kubelet', 'v1.34.4', 'go').endsWith('/bin/v1.34.4/go/kubelet'));
  assert.ok(cachedBinaryPath('kubelet', 'v1.34.4', 'go', other).endsWith(`/bin/v1.34.4/go/linux-${other}/kubelet`));
});

test('a control plane of the other architecture gets its own control-plane binaries and etcd, and installs them; workers keep the host\'s', () => {
  const c = config({ machines: machines(other) });
  const t = byName(projectTargets(c));
  const together = t.get(`bin:kubernetes@${other}`);
  assert.ok(together, 'the cross build of the control plane binaries');
  assert.equal(together!.inputs?.values, { version: c.kubernetesVersion, binarySource: c.binarySource, arch: other, binaries: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] });
  // No node of that architecture runs a kubelet: none is built for it.
  assert.not.ok(t.has(`bin:kubelet@${other}`));
  assert.ok(t.has(`bin:etcd@${other}`) && t.has(`bin:etcd:etcd@${other}`) && t.has(`bin:etcd:etcdctl@${other}`));
  assert.equal(t.get(`bin:etcd@${other}`)?.inputs?.values?.arch, other);
  assert.ok(depNames(t.get('install:server:kube-apiserver')).includes(`bin:kube-apiserver@${other}`), depNames(t.get('install:server:kube-apiserver')).join());
  assert.ok(depNames(t.get('install:server:kube-scheduler')).includes(`bin:kube-scheduler@${other}`));
  assert.ok(depNames(t.get('install:server:etcd')).includes(`bin:etcd:etcd@${other}`));
  assert.ok(depNames(t.get('install:server:etcdctl')).includes(`bin:etcd:etcdctl@${other}`));
  assert.ok(depNames(t.get('install:node-0:kubelet')).includes('bin:kubelet'));
  // The host's binaries are all still built: kubectl and crictl run on the build host.
  assert.ok(t.has('bin:kubernetes') && t.has('bin:kubectl') && t.has('bin:crictl'));
  // The binaries alias names the cross-built ones too.
  assert.ok(depNames(t.get('binaries')).includes(`bin:kubernetes@${other}`));
});

test('a worker of the other architecture gets kubelet and kube-proxy built for it, and no etcd', () => {
  const c = config({ machines: machines(undefined, other) });
  const t = byName(projectTargets(c));
  assert.equal(t.get(`bin:kubernetes@${other}`)?.inputs?.values?.binaries, ['kubelet', 'kube-proxy']);
  assert.not.ok(t.has(`bin:etcd@${other}`));
  assert.ok(depNames(t.get('install:node-0:kubelet')).includes(`bin:kubelet@${other}`));
  assert.ok(depNames(t.get('install:node-0:kube-proxy')).includes(`bin:kube-proxy@${other}`));
  assert.ok(depNames(t.get('install:node-1:kubelet')).includes('bin:kubelet'));
});

test('a worker of the other architecture loads images built for it (cluster and add-on images); the conformance run refuses it by name', async () => {
  const c = config({ machines: machines(undefined, other), addons: { 'metrics-server': { enabled: true } } });
  const t = byName(projectTargets(c));
  for (const image of ['pause', 'echo', 'coredns']) {
    assert.ok(depNames(t.get(`load:${image}@node-0`)).includes(`image:${image}@${other}`), `load:${image}@node-0: ${depNames(t.get(`load:${image}@node-0`)).join()}`);
    assert.ok(depNames(t.get(`load:${image}@node-1`)).includes(`image:${image}`));
    assert.equal(t.get(`image:${image}@${other}`)?.inputs?.values?.arch, other);
  }
  assert.ok(depNames(t.get('load:metrics-server@node-0')).includes(`image:metrics-server@${other}`));
  assert.ok(depNames(t.get('load:metrics-server@node-1')).includes('image:metrics-server'));
  // The e2e test images come from the Docker-built base image, for the build host only: the suite says so before it runs.
  const run = t.get('cluster:conformance')!;
  const error = await run.build!({} as never).then(() => undefined, (e: Error & { hint?: string }) => e);
  assert.ok(error?.message.includes(`node-0 is ${other}`), error?.message);
  assert.ok(error?.message.includes(`built for the build host's architecture (${hostArch()}) only`), error?.message);
});

test('the cross-built images of a control plane of the other architecture: none (it runs no pods)', () => {
  const t = byName(projectTargets(config({ machines: machines(other) })));
  assert.equal([...t.keys()].filter((name) => name.startsWith('image:') && name.endsWith(`@${other}`)), []);
});

test.run();
