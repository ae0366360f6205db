// certs:check against real files: the table, the 30-day warning, and each failure it must catch
// (expired, wrong CA, request config changed, key swapped).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueToFiles } from '../../lib/pki/issue-to-files.ts';
import { certsStep } from '../../tasks/certs/index.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';
import { buildDirect, configWith, removeRoot, tempRoot } from './pki-support.ts';

const config = configWith({ workers: 1 });
const DAY = 86_400_000;

async function check(root: string): Promise<{ lines: string[]; error?: Error; result?: unknown }> {
  const lines: string[] = [];
  const target = certsStep(config, planIps(config)).check;
  try {
    const result = await target.build!({ deps: {}, root, outDir: join(root, 'output'), signal: new AbortController().signal, log: (l) => lines.push(l), previous: undefined, reason: 'test' });
    return { lines, result };
  } catch (error) {
    return { lines, error: error as Error };
  }
}

/** Re-issues one cert in place as if it had been issued `daysAgo` days ago. */
async function backdate(root: string, file: string, request: string, profile: string, daysAgo: number, signer = 'ca', vars = {}) {
  await issueToFiles({
    root, request: `csr/${request}`, vars, signingConfig: 'csr/ca-config.json', profile, defaultKey: { algo: 'ecdsa', size: 256 },
    cert: `output/pki/${file}.crt`, key: `output/pki/${file}.key`, signer: { cert: `output/pki/${signer}.crt`, key: `output/pki/${signer}.key` },
    now: new Date(Date.now() - daysAgo * DAY),
  });
}

function withRoot(name: string, fn: (root: string) => Promise<void>) {
  test(name, async () => {
    const root = tempRoot();
    try {
      await buildDirect(config, root);
      await fn(root);
    } finally {
      removeRoot(root);
    }
  });
}

withRoot('a fresh PKI: a table of every cert, all ok', async (root) => {
  const { lines, error, result } = await check(root);
  assert.is(error, undefined);
  assert.match(lines[0]!, /^CERT +SUBJECT +SANS +ISSUER +NOT AFTER +DAYS +STATUS$/);
  const rows = lines.slice(2);
  assert.is(rows.length, 15); // 3 CAs + 8 cluster-wide leaves + etcd server/peer + kubelet client/serving
  const apiserver = rows.find((l) => l.startsWith('kube-apiserver:controller-1 '))!;
  assert.match(apiserver, /CN=kube-apiserver +10\.32\.0\.1, 10\.240\.0\.10, controller-1, 10\.240\.0\.2, harder-api, 127\.0\.0\.1, localhost, kubernetes, .*kubernetes\.default\.svc\.cluster\.local +CN=kubernetes-ca +\d{4}-\d\d-\d\d +36[45] +ok$/);
  assert.match(rows.find((l) => l.startsWith('ca '))!, /CN=kubernetes-ca +- +CN=kubernetes-ca +\d{4}-\d\d-\d\d +36\d\d +ok$/);
  assert.ok(rows.every((l) => l.endsWith(' ok')));
  assert.is((result as { warnings: number }).warnings, 0);
});

withRoot('a cert with less than 30 days left is a warning, not a failure', async (root) => {
  await backdate(root, 'admin', 'admin-csr.json', 'client', 350);
  const { lines, error } = await check(root);
  assert.is(error, undefined);
  assert.match(lines.find((l) => l.startsWith('admin '))!, / 1[45] +warning$/);
  assert.ok(lines.some((l) => /^warning: admin expires in 1[45] days/.test(l)));
});

withRoot('an expired cert fails the check', async (root) => {
  await backdate(root, 'kube-proxy', 'kube-proxy-csr.json', 'client', 400);
  const { error } = await check(root);
  assert.ok(error);
  assert.match(error!.message, /output\/pki\/kube-proxy\.crt expired on \d{4}-/);
  assert.match((error as Error & { hint: string }).hint, /certs --force/);
});

withRoot('a cert signed by another CA fails the check', async (root) => {
  await backdate(root, 'kube-scheduler', 'kube-scheduler-csr.json', 'client', 0, 'etcd-ca');
  const { error, lines } = await check(root);
  assert.match(error!.message, /output\/pki\/kube-scheduler\.crt is not signed by the current CA output\/pki\/ca\.crt/);
  assert.match(lines.find((l) => l.startsWith('kube-scheduler '))!, /CN=etcd-ca .* error$/);
});

withRoot('a cert that no longer matches its request config (O, SANs) fails the check', async (root) => {
  const edit = (file: string, from: string, to: string) => writeFileSync(join(root, file), readFileSync(join(root, file), 'utf8').replace(from, to));
  edit('csr/admin-csr.json', 'system:masters', 'cluster-admins');
  edit('csr/kube-apiserver-csr.json', '"localhost",', '"localhost", "api.example.com",');
  const { error } = await check(root);
  assert.match(error!.message, /output\/pki\/admin\.crt: O is \[system:masters\] but csr\/admin-csr\.json asks for \[cluster-admins\]/);
  assert.match(error!.message, /output\/pki\/kube-apiserver-controller-1\.crt: SANs differ from csr\/kube-apiserver-csr\.json; missing dns:api\.example\.com/);
});

withRoot('a key that does not belong to its cert fails the check', async (root) => {
  writeFileSync(join(root, 'output/pki/admin.key'), readFileSync(join(root, 'output/pki/kube-proxy.key')));
  const { error } = await check(root);
  assert.match(error!.message, /output\/pki\/admin\.key does not match output\/pki\/admin\.crt/);
});

withRoot('a private key readable by others fails the check', async (root) => {
  chmodSync(join(root, 'output/pki/ca.key'), 0o644);
  const { error } = await check(root);
  assert.match(error!.message, /mode of output\/pki\/ca\.key is 0644, want 0600/);
});

test('a missing cert fails the check', async () => {
  const root = tempRoot();
  try {
    const { error } = await check(root);
    assert.match(error!.message, /output\/pki\/ca\.crt is missing \(not issued yet\)/);
  } finally {
    removeRoot(root);
  }
});

test.run();
