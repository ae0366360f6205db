// Incremental behaviour of the certs targets through the real engine (runBuild/cleanTargets) in temp
// project roots: no-op rerun, force, adding a worker, editing one request config, clean needs --yes.

import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanTargets, runBuild, EngineError, type BuildReport } from '../../lib/engine/index.ts';
import type { ClusterConfig } from '../../tasks/config/config.ts';
import { projectTargets } from '../../tasks/index.ts';
import { configWith, removeRoot, tempRoot } from './pki-support.ts';

const root = tempRoot();
const read = (p: string) => readFileSync(join(root, p), 'utf8');
test.after(() => removeRoot(root));

async function build(config: ClusterConfig, requested: string[], force = false): Promise<BuildReport> {
  const report = await runBuild({ targets: projectTargets(config), requested, root, force, jobs: 2 });
  assert.ok(report.ok, JSON.stringify(report.failures));
  return report;
}

/** Names of the non-alias targets with this outcome. */
function withOutcome(report: BuildReport, outcome: string): string[] {
  return Object.entries(report.entries)
    .filter(([, e]) => !e.alias && e.outcome === outcome)
    .map(([name]) => name)
    .sort();
}

const two = configWith({ workers: 2 });
const three = configWith({ workers: 3 });
const LEAVES_2 = [
  'admin', 'apiserver-etcd-client', 'apiserver-kubelet-client', 'etcd-peer:controller-1', 'etcd-server:controller-1', 'front-proxy-client',
  'kube-apiserver:controller-1', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'kubelet-serving:worker-1', 'kubelet-serving:worker-2',
  'kubelet:worker-1', 'kubelet:worker-2',
].map((id) => `certs:${id}`);
const KUBECONFIGS_2 = ['admin', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'kubelet:worker-1', 'kubelet:worker-2'].map((id) => `kubeconfig:${id}`);
const PRECIOUS = ['certs:ca', 'certs:etcd-ca', 'certs:front-proxy-ca', 'certs:service-account', 'encryption:config'];

test('first build of certs: every cert, key pair, kubeconfig and the encryption config', async () => {
  const report = await build(two, ['certs']);
  assert.equal(withOutcome(report, 'built'), [...LEAVES_2, ...KUBECONFIGS_2, ...PRECIOUS].sort());
  // net:plan is not a dependency (addresses are per-cert input values), so it is not built by certs.
  assert.not.ok('net:plan' in report.entries);
});

test('rerun: nothing rebuilt', async () => {
  const report = await build(two, ['certs']);
  assert.equal(withOutcome(report, 'built'), []);
  assert.is(withOutcome(report, 'up-to-date').length, LEAVES_2.length + KUBECONFIGS_2.length + PRECIOUS.length);
});

test('a CA key made world-readable: explained and put back by a chmod, nothing re-issued', async () => {
  const before = read('output/pki/ca.crt');
  chmodSync(join(root, 'output/pki/ca.key'), 0o644);
  const report = await build(two, ['certs']);
  assert.equal(withOutcome(report, 'built'), []);
  assert.ok(report.entries['certs:ca']!.repaired);
  assert.is(report.entries['certs:ca']!.reason, 'mode of output/pki/ca.key is 0644, want 0600');
  assert.is(statSync(join(root, 'output/pki/ca.key')).mode & 0o777, 0o600);
  assert.is(read('output/pki/ca.crt'), before);
});

test('a changed keyAlgorithm or a garbage CA key stops the run naming the precious targets; no key is replaced', async () => {
  const keys = ['ca', 'etcd-ca', 'front-proxy-ca', 'service-account'].map((id) => read(`output/pki/${id}.key`));
  const report = await runBuild({ targets: projectTargets(configWith({ workers: 2, keyAlgorithm: 'rsa' })), requested: ['certs'], root, jobs: 2 });
  assert.not.ok(report.ok);
  assert.equal(report.failures.map((f) => f.target), ['certs:ca', 'certs:etcd-ca', 'certs:front-proxy-ca', 'certs:service-account']);
  assert.is(report.failures[0]!.message, 'certs:ca is precious and would be replaced: value keyAlgorithm changed: "ecdsa" → "rsa"');
  assert.match(report.failures[0]!.hint!, /--force certs:ca/);
  assert.equal(withOutcome(report, 'built'), []);
  assert.equal(['ca', 'etcd-ca', 'front-proxy-ca', 'service-account'].map((id) => read(`output/pki/${id}.key`)), keys);
  writeFileSync(join(root, 'output/pki/ca.key'), 'garbage');
  const damaged = await runBuild({ targets: projectTargets(two), requested: ['certs'], root, jobs: 2 });
  assert.equal(damaged.failures.map((f) => f.message), ['certs:ca is precious and would be replaced: output output/pki/ca.key was modified']);
  writeFileSync(join(root, 'output/pki/ca.key'), keys[0]!);
  assert.equal(withOutcome(await build(two, ['certs']), 'built'), []);
});

test('certs --force: leaf certs re-issued (same keys), CAs and other precious targets kept, kubeconfigs follow', async () => {
  const before = { ca: read('output/pki/ca.crt'), admin: read('output/pki/admin.crt'), adminKey: read('output/pki/admin.key'), kc: read('output/kubeconfig/admin.kubeconfig'), enc: read('output/encryption/encryption-config.yaml') };
  const report = await build(two, ['certs'], true);
  assert.equal(withOutcome(report, 'built'), [...LEAVES_2, ...KUBECONFIGS_2].sort());
  assert.equal(withOutcome(report, 'up-to-date'), [...PRECIOUS].sort());
  assert.is(read('output/pki/ca.crt'), before.ca);
  assert.is.not(read('output/pki/admin.crt'), before.admin);
  assert.is(read('output/pki/admin.key'), before.adminKey);
  assert.is.not(read('output/kubeconfig/admin.kubeconfig'), before.kc);
  assert.ok(read('output/kubeconfig/admin.kubeconfig').includes(Buffer.from(read('output/pki/admin.crt')).toString('base64')));
  assert.is(read('output/encryption/encryption-config.yaml'), before.enc);
});

test('adding a worker issues exactly that worker\'s certs and kubeconfig', async () => {
  const report = await build(three, ['certs']);
  assert.equal(withOutcome(report, 'built'), ['certs:kubelet-serving:worker-3', 'certs:kubelet:worker-3', 'kubeconfig:kubelet:worker-3']);
  assert.ok(existsSync(join(root, 'output/kubeconfig/kubelet-worker-3.kubeconfig')));
});

test('editing one request config re-issues that cert and its dependents only', async () => {
  const file = join(root, 'csr/admin-csr.json');
  writeFileSync(file, read('csr/admin-csr.json').replace('[{ "O": "system:masters" }]', '[{ "O": "system:masters" }, { "O": "ops" }]'));
  const report = await build(three, ['certs']);
  assert.equal(withOutcome(report, 'built'), ['certs:admin', 'kubeconfig:admin']);
  assert.match(read('output/pki/admin.crt'), /BEGIN CERTIFICATE/);
  // A per-node template: every kubelet client cert and kubelet kubeconfig, nothing else.
  writeFileSync(join(root, 'csr/kubelet-csr.json'), read('csr/kubelet-csr.json').replace('"system:nodes" }]', '"system:nodes" }, { "OU": "workers" }]'));
  const again = await build(three, ['certs']);
  assert.equal(withOutcome(again, 'built'), ['certs:kubelet:worker-1', 'certs:kubelet:worker-2', 'certs:kubelet:worker-3', 'kubeconfig:kubelet:worker-1', 'kubeconfig:kubelet:worker-2', 'kubeconfig:kubelet:worker-3']);
});

test('a deleted cert file is re-issued, and only what embeds it follows', async () => {
  rmSync(join(root, 'output/pki/kube-proxy.crt'));
  const report = await build(three, ['certs']);
  assert.equal(withOutcome(report, 'built'), ['certs:kube-proxy', 'kubeconfig:kube-proxy']);
});

test('a bad request config fails that target with the file and field, and the old cert stays', async () => {
  const before = read('output/pki/kube-scheduler.crt');
  const good = read('csr/kube-scheduler-csr.json');
  writeFileSync(join(root, 'csr/kube-scheduler-csr.json'), '{ "CN": "system:kube-scheduler", "hosts": ["scheduler..local"] }');
  const report = await runBuild({ targets: projectTargets(three), requested: ['certs'], root, jobs: 2 });
  assert.not.ok(report.ok);
  assert.is(report.failures.length, 1);
  assert.is(report.failures[0]!.target, 'certs:kube-scheduler');
  assert.match(report.failures[0]!.message, /csr\/kube-scheduler-csr\.json, field "hosts\[0\]": "scheduler\.\.local" is neither an IP address nor a DNS name/);
  assert.is(read('output/pki/kube-scheduler.crt'), before);
  writeFileSync(join(root, 'csr/kube-scheduler-csr.json'), good);
  // The failed build wrote nothing: with the config undone, the old cert is what the record describes.
  const fixed = await build(three, ['certs']);
  assert.equal(withOutcome(fixed, 'built'), []);
  assert.is(read('output/pki/kube-scheduler.crt'), before);
});

test('a typo in the CA request config, then undone: the CA is not re-issued, nor anything it signed', async () => {
  const before = { ca: read('output/pki/ca.crt'), admin: read('output/pki/admin.crt') };
  const good = read('csr/ca-csr.json');
  writeFileSync(join(root, 'csr/ca-csr.json'), good.replace('"CN"', '"CM"'));
  // Forced, the CA build runs and fails on the typo (unforced, a precious target's changed input stops the run before any build).
  const report = await runBuild({ targets: projectTargets(three), requested: ['certs:ca'], force: true, root, jobs: 4 });
  assert.not.ok(report.ok);
  assert.is(report.failures[0]!.target, 'certs:ca');
  writeFileSync(join(root, 'csr/ca-csr.json'), good);
  const fixed = await build(three, ['certs']);
  assert.equal(withOutcome(fixed, 'built'), []);
  assert.is(read('output/pki/ca.crt'), before.ca);
  assert.is(read('output/pki/admin.crt'), before.admin);
});

test('forcing the CA itself re-issues it and every cert it signed, not the other CAs\' trees', async () => {
  const report = await build(three, ['certs:ca'], true);
  assert.equal(withOutcome(report, 'built'), ['certs:ca']);
  const all = await build(three, ['certs']);
  const built = withOutcome(all, 'built');
  assert.ok(built.includes('certs:admin') && built.includes('kubeconfig:admin') && built.includes('certs:kubelet-serving:worker-3'));
  assert.not.ok(built.includes('certs:apiserver-etcd-client'));
  assert.not.ok(built.includes('certs:front-proxy-client'));
  assert.not.ok(built.includes('certs:etcd-server:controller-1'));
});

test('clean certs refuses without --yes while a CA exists, naming what must be re-issued; with yes removes certificates and keys only', async () => {
  try {
    await cleanTargets({ targets: projectTargets(three), requested: ['certs'], root });
    assert.unreachable('clean must refuse');
  } catch (error) {
    assert.instance(error, EngineError);
    const e = error as EngineError;
    assert.is(e.kind, 'needs-yes');
    assert.match(e.message, /certs:ca/);
    assert.match(e.message, /certs:service-account/);
    // The encryption key is not a certificate: losing it would make every stored Secret unreadable.
    assert.not.match(e.message, /encryption:config/);
    assert.match(e.details!.join('\n'), /will have to be rebuilt: .*kubeconfig:admin/);
  }
  assert.ok(existsSync(join(root, 'output/pki/ca.key')));
  // What a kill -9 between writing and renaming a key leaves: a copy of the private key.
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  writeFileSync(join(root, `output/pki/ca.key.${dead}.0.tmp`), read('output/pki/ca.key'), { mode: 0o600 });
  const report = await cleanTargets({ targets: projectTargets(three), requested: ['certs'], root, yes: true });
  assert.ok(report.ok);
  assert.equal(report.removedTemps, [`output/pki/ca.key.${dead}.0.tmp`]);
  assert.not.ok(existsSync(join(root, `output/pki/ca.key.${dead}.0.tmp`)));
  assert.ok(report.removed.includes('output/pki/ca.key'));
  assert.ok(report.dependents.includes('kubeconfig:admin'));
  assert.not.ok(existsSync(join(root, 'output/pki/ca.crt')));
  assert.not.ok(existsSync(join(root, 'output/pki/admin.key')));
  assert.ok(existsSync(join(root, 'output/encryption/encryption-config.yaml')), 'the encryption config is kept');
});

test.run();
