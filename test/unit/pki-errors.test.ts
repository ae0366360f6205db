// Bad input at build time: one clear error naming file and field, and the good files left untouched.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PkiInputError } from '../../lib/pki/errors.ts';
import { certsStep } from '../../tasks/certs/index.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';
import { buildDirect, configWith, removeRoot, tempRoot } from './pki-support.ts';

const config = configWith({ workers: 1 });
const root = tempRoot();
const step = certsStep(config, planIps(config));
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const snapshot = () => Object.fromEntries(readdirSync(join(root, 'output/pki')).sort().map((f) => [f, read(`output/pki/${f}`)]));
let original: Record<string, string>;

test.before(async () => {
  await buildDirect(config, root);
  original = snapshot();
});
test.after(() => removeRoot(root));

/** Builds one cert target with the dependency results of the first build. */
async function rebuild(id: string): Promise<unknown> {
  const target = step.pki.leaves[id] ?? step.pki.cas[id as 'ca'];
  const deps: Record<string, unknown> = {};
  for (const [alias, dep] of Object.entries(target!.deps)) deps[alias] = { cert: `output/pki/${dep.name.slice(6)}.crt`, key: `output/pki/${dep.name.slice(6)}.key` };
  return target!.build!({ deps: deps as never, root, outDir: join(root, 'output'), signal: new AbortController().signal, log: () => {}, previous: undefined, reason: 'test' });
}

/** Expects one PkiInputError naming file and field, and no change under output/pki besides the test's own edit. */
async function expectInputError(id: string, file: string, field: string | undefined, message: RegExp, edited?: string): Promise<void> {
  try {
    await rebuild(id);
  } catch (error) {
    assert.instance(error, PkiInputError, String(error));
    const e = error as PkiInputError;
    assert.is(e.file, file);
    assert.is(e.field, field);
    assert.match(e.message, message);
    const now = snapshot();
    if (edited) now[edited] = original[edited]!;
    assert.equal(now, original, 'no file under output/pki may change');
    assert.equal(readdirSync(join(root, 'output/pki')).filter((f) => f.endsWith('.tmp')), []);
    return;
  }
  assert.unreachable(`certs:${id} should have failed`);
}

/** Runs `fn` with `file` replaced by `edit(current text)`, restoring it afterwards. */
function withEdited(file: string, edit: (text: string) => string, fn: () => Promise<void>) {
  return async () => {
    const before = read(file);
    writeFileSync(join(root, file), edit(before));
    try {
      await fn();
    } finally {
      writeFileSync(join(root, file), before);
    }
  };
}

test('malformed request JSON', withEdited('csr/admin-csr.json', () => '{ "CN": "admin", ', () =>
  expectInputError('admin', 'csr/admin-csr.json', undefined, /^csr\/admin-csr\.json: is not valid JSON/)));

test('unknown key algorithm', withEdited('csr/kube-proxy-csr.json', () => '{ "CN": "system:kube-proxy", "key": { "algo": "ed448" } }', () =>
  expectInputError('kube-proxy', 'csr/kube-proxy-csr.json', 'key.algo', /^csr\/kube-proxy-csr\.json, field "key\.algo": unknown key algorithm "ed448"$/)));

test('empty CN', withEdited('csr/kubelet-csr.json', () => '{ "CN": "", "names": [{ "O": "system:nodes" }] }', () =>
  expectInputError('kubelet:worker-1', 'csr/kubelet-csr.json', 'CN', /^csr\/kubelet-csr\.json, field "CN": is empty$/)));

test('a SAN that is neither IP nor DNS name', withEdited('csr/kube-apiserver-csr.json', () => '{ "CN": "kube-apiserver", "hosts": ["${kubernetesServiceIp}", "kube apiserver"] }', () =>
  expectInputError('kube-apiserver:controller-1', 'csr/kube-apiserver-csr.json', 'hosts[1]', /^csr\/kube-apiserver-csr\.json, field "hosts\[1\]": "kube apiserver" is neither an IP address nor a DNS name$/)));

test('a profile with an unknown usage', withEdited('csr/ca-config.json', (text) => text.replace('"client auth"]', '"client-auth"]'), () =>
  expectInputError('admin', 'csr/ca-config.json', 'signing.profiles.client.usages[2]', /unknown usage "client-auth"/)));

test('a CA key that does not match the CA cert', withEdited('output/pki/ca.key', () => read('output/pki/etcd-ca.key'), () =>
  expectInputError('admin', 'output/pki/ca.key', undefined, /^output\/pki\/ca\.key: does not match the CA certificate output\/pki\/ca\.crt$/, 'ca.key')));

test('a CA cert that is not a CA', withEdited('output/pki/ca.crt', () => read('output/pki/admin.crt'), () =>
  expectInputError('kube-scheduler', 'output/pki/ca.crt', undefined, /^output\/pki\/ca\.crt: is not a CA certificate/, 'ca.crt')));

test('after the bad inputs are fixed, the same targets build again', async () => {
  original = snapshot();
  const result = (await rebuild('admin')) as { sha256: string };
  assert.match(result.sha256, /^[0-9a-f]{64}$/);
  assert.is.not(read('output/pki/admin.crt'), original['admin.crt']);
  assert.is(read('output/pki/admin.key'), original['admin.key'], 'the key is kept when re-issuing');
});

test.run();
