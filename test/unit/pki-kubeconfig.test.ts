// Kubeconfigs and the encryption config: the real kubectl accepts every kubeconfig, the embedded data is
// exactly the cert files, servers point where they should; the encryption key survives rebuilds.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certsStep } from '../../tasks/certs/index.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';
import { encryptionConfigPath, existingKey, renderEncryptionConfig } from '../../tasks/certs/encryption.ts';
import { renderKubeconfig } from '../../tasks/certs/kubeconfig.ts';
import { parseYaml } from '../lib/pyyaml.ts';
import { buildDirect, configWith, removeRoot, run, tempRoot } from './pki-support.ts';

const config = configWith({ controlPlanes: 1, workers: 3, clusterName: 'pki-test' });
const ENCRYPTION_CONFIG = encryptionConfigPath(config);
const root = tempRoot();
const read = (p: string) => readFileSync(join(root, p), 'utf8');

test.before(async () => {
  await buildDirect(config, root);
});
test.after(() => removeRoot(root));

const KUBECONFIGS: [string, string, string, string][] = [
  // The host comes in through the API endpoint's published port; the controller-manager and scheduler talk to
  // their own node's apiserver; with one control plane the rest talk to it directly.
  ['admin', 'admin', 'admin', 'https://127.0.0.1:6443'],
  ['kube-controller-manager', 'kube-controller-manager', 'system:kube-controller-manager', 'https://127.0.0.1:6443'],
  ['kube-scheduler', 'kube-scheduler', 'system:kube-scheduler', 'https://127.0.0.1:6443'],
  ['kube-proxy', 'kube-proxy', 'system:kube-proxy', 'https://10.240.0.10:6443'],
  ['kubelet-worker-1', 'kubelet-worker-1', 'system:node:worker-1', 'https://10.240.0.10:6443'],
  ['kubelet-worker-2', 'kubelet-worker-2', 'system:node:worker-2', 'https://10.240.0.10:6443'],
  ['kubelet-worker-3', 'kubelet-worker-3', 'system:node:worker-3', 'https://10.240.0.10:6443'],
];

test('one kubeconfig target per identity', () => {
  const names = certsStep(config, planIps(config)).kubeconfigs.all.map((t) => t.name).sort();
  assert.equal(names, ['kubeconfig:admin', 'kubeconfig:kube-controller-manager', 'kubeconfig:kube-proxy', 'kubeconfig:kube-scheduler', 'kubeconfig:kubelet:worker-1', 'kubeconfig:kubelet:worker-2', 'kubeconfig:kubelet:worker-3']);
});

for (const [file, cert, user, server] of KUBECONFIGS) {
  test(`kubectl accepts ${file}.kubeconfig; embedded data equals the files`, () => {
    const path = join(root, `output/kubeconfig/${file}.kubeconfig`);
    const out = run('kubectl', ['config', 'view', '--kubeconfig', path, '--raw', '-o', 'json']);
    assert.is(out.status, 0, out.stderr);
    const view = JSON.parse(out.stdout);
    assert.is(view['current-context'], `${user}@pki-test`);
    assert.is(view.clusters.length, 1);
    assert.is(view.clusters[0].name, 'pki-test');
    assert.is(view.clusters[0].cluster.server, server);
    assert.is(view.users[0].name, user);
    assert.equal(view.contexts[0].context, { cluster: 'pki-test', user });
    const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
    assert.is(decode(view.clusters[0].cluster['certificate-authority-data']), read('output/pki/ca.crt'));
    assert.is(decode(view.users[0].user['client-certificate-data']), read(`output/pki/${cert}.crt`));
    assert.is(decode(view.users[0].user['client-key-data']), read(`output/pki/${cert}.key`));
    // kubectl itself can use the credentials: it resolves the context without contacting a server.
    const ctx = run('kubectl', ['config', 'current-context', '--kubeconfig', path]);
    assert.is(ctx.stdout.trim(), `${user}@pki-test`);
  });
}

test('encryption config: EncryptionConfiguration v1, secretbox with a 32-byte key, then identity', () => {
  const [config, ...more] = parseYaml(read(ENCRYPTION_CONFIG)) as any[];
  assert.is(more.length, 0, 'one document');
  assert.is(config.apiVersion, 'apiserver.config.k8s.io/v1');
  assert.is(config.kind, 'EncryptionConfiguration');
  assert.is(config.resources.length, 1);
  assert.equal(config.resources[0].resources, ['secrets']);
  // secretbox first (new writes use it), identity second (secrets written before encryption stay readable).
  const [secretbox, identity, ...others] = config.resources[0].providers;
  assert.is(others.length, 0);
  assert.equal(Object.keys(secretbox), ['secretbox']);
  assert.is(secretbox.secretbox.keys.length, 1);
  assert.is(secretbox.secretbox.keys[0].name, 'key1');
  assert.is(Buffer.from(secretbox.secretbox.keys[0].secret, 'base64').length, 32);
  assert.equal(identity, { identity: {} });
  assert.equal(Object.keys(config).sort(), ['apiVersion', 'kind', 'resources']);
  assert.equal(Object.keys(config.resources[0]).sort(), ['providers', 'resources']);
  assert.equal(Object.keys(secretbox.secretbox.keys[0]).sort(), ['name', 'secret']);
});

test('encryption config: the key is read back from any base64 spelling the emitter writes', () => {
  // A key starting with a digit or '+' is quoted, one starting with a letter or '/' is not: both are found.
  for (const [first, byte] of [['A', 0x00], ['7', 0xef], ['+', 0xf8], ['/', 0xfc]] as const) {
    const key = Buffer.alloc(32, 1);
    key[0] = byte;
    const secret = key.toString('base64');
    assert.is(secret[0], first);
    const text = renderEncryptionConfig(secret);
    assert.is(existingKey(text, ENCRYPTION_CONFIG), secret);
    assert.is((parseYaml(text)[0] as any).resources[0].providers[0].secretbox.keys[0].secret, secret);
  }
});

test('kubeconfig: names YAML would misread (numbers, booleans, ": ", quotes) reach kubectl as written', () => {
  const pem = read('output/pki/ca.crt');
  const names: [string, string][] = [
    ['1.30', 'yes'],
    ['null', 'system:node:worker-1'],
    ['a: b #c', `it's "quoted"`],
    ['~', '0x1F'],
  ];
  for (const [clusterName, user] of names) {
    const path = join(root, 'tricky.kubeconfig');
    writeFileSync(path, renderKubeconfig({ clusterName, server: 'https://[fd00::1]:6443', user, caPem: pem, certPem: pem, keyPem: pem }));
    const out = run('kubectl', ['config', 'view', '--kubeconfig', path, '--raw', '-o', 'json']);
    assert.is(out.status, 0, out.stderr);
    const view = JSON.parse(out.stdout);
    assert.is(view.clusters[0].name, clusterName);
    assert.is(view.clusters[0].cluster.server, 'https://[fd00::1]:6443');
    assert.is(view.users[0].name, user);
    assert.equal(view.contexts[0], { name: `${user}@${clusterName}`, context: { cluster: clusterName, user } });
    assert.is(view['current-context'], `${user}@${clusterName}`);
  }
});

test('encryption config: a rebuild keeps the key; an unusable file is refused, not replaced', async () => {
  const before = read(ENCRYPTION_CONFIG);
  const encryption = certsStep(config, planIps(config)).encryption;
  const ctx = { deps: {}, root, outDir: join(root, 'output'), signal: new AbortController().signal, log: () => {}, previous: undefined, reason: 'test' };
  const first = await encryption.build!(ctx);
  assert.is(read(ENCRYPTION_CONFIG), before);
  writeFileSync(join(root, ENCRYPTION_CONFIG), before.replace(/secret: \S+/, 'secret: c2hvcnQ='));
  try {
    await encryption.build!(ctx);
    assert.unreachable('a file without a 32-byte key must not be replaced');
  } catch (error) {
    assert.match((error as Error).message, /^output\/encryption\/encryption-config\.yaml: no 32-byte "secret" key found; refusing to replace it/);
  }
  assert.match(read(ENCRYPTION_CONFIG), /secret: c2hvcnQ=/);
  writeFileSync(join(root, ENCRYPTION_CONFIG), before);
  assert.equal(await encryption.build!(ctx), first);
});

test.run();
