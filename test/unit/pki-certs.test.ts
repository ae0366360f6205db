// Every certificate of a 2-control-plane, 2-worker cluster, checked with the real openssl: chain
// (openssl verify), subject, SANs, key usage, EKU and CA flag against the table below; file modes; RSA.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { buildDirect, configWith, opensslText, removeRoot, run, tempRoot } from './pki-support.ts';

type Row = { id: string; file: string; ca: string; subject: string; sans: string[]; eku: string; isCa?: boolean };

const SERVER = 'TLS Web Server Authentication';
const CLIENT = 'TLS Web Client Authentication';
const BOTH = `${SERVER}, ${CLIENT}`;

/** What each cert must look like for controlPlanes: 2, workers: 2 with the default plan. */
const TABLE: Row[] = [
  { id: 'ca', file: 'ca', ca: 'ca', subject: 'CN=kubernetes-ca', sans: [], eku: '', isCa: true },
  { id: 'etcd-ca', file: 'etcd-ca', ca: 'etcd-ca', subject: 'CN=etcd-ca', sans: [], eku: '', isCa: true },
  { id: 'front-proxy-ca', file: 'front-proxy-ca', ca: 'front-proxy-ca', subject: 'CN=front-proxy-ca', sans: [], eku: '', isCa: true },
  { id: 'admin', file: 'admin', ca: 'ca', subject: 'CN=admin,O=system:masters', sans: [], eku: CLIENT },
  { id: 'kube-controller-manager', file: 'kube-controller-manager', ca: 'ca', subject: 'CN=system:kube-controller-manager', sans: [], eku: CLIENT },
  { id: 'kube-scheduler', file: 'kube-scheduler', ca: 'ca', subject: 'CN=system:kube-scheduler', sans: [], eku: CLIENT },
  { id: 'kube-proxy', file: 'kube-proxy', ca: 'ca', subject: 'CN=system:kube-proxy', sans: [], eku: CLIENT },
  { id: 'apiserver-kubelet-client', file: 'apiserver-kubelet-client', ca: 'ca', subject: 'CN=kube-apiserver-kubelet-client', sans: [], eku: CLIENT },
  { id: 'apiserver-etcd-client', file: 'apiserver-etcd-client', ca: 'etcd-ca', subject: 'CN=kube-apiserver-etcd-client', sans: [], eku: CLIENT },
  { id: 'front-proxy-client', file: 'front-proxy-client', ca: 'front-proxy-ca', subject: 'CN=front-proxy-client', sans: [], eku: CLIENT },
  ...[1, 2].flatMap((i): Row[] => [
    // One serving cert per control plane, naming only its own node (so adding one re-issues no other's).
    {
      id: `kube-apiserver:controller-${i}`,
      file: `kube-apiserver-controller-${i}`,
      ca: 'ca',
      subject: 'CN=kube-apiserver',
      sans: [
        'IP:10.32.0.1', `IP:10.240.0.1${i - 1}`, 'IP:127.0.0.1',
        // The API endpoint: its address on the node network (host 2) and its container name.
        'IP:10.240.0.2', 'DNS:harder-api',
        `DNS:controller-${i}`, 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default',
        'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local',
      ],
      eku: SERVER,
    },
    { id: `etcd-server:controller-${i}`, file: `etcd-server-controller-${i}`, ca: 'etcd-ca', subject: `CN=controller-${i}`, sans: [`DNS:controller-${i}`, `IP:10.240.0.1${i - 1}`, 'DNS:localhost', 'IP:127.0.0.1'], eku: BOTH },
    { id: `etcd-peer:controller-${i}`, file: `etcd-peer-controller-${i}`, ca: 'etcd-ca', subject: `CN=controller-${i}`, sans: [`DNS:controller-${i}`, `IP:10.240.0.1${i - 1}`, 'DNS:localhost', 'IP:127.0.0.1'], eku: BOTH },
    { id: `kubelet:worker-${i}`, file: `kubelet-worker-${i}`, ca: 'ca', subject: `CN=system:node:worker-${i},O=system:nodes`, sans: [], eku: CLIENT },
    { id: `kubelet-serving:worker-${i}`, file: `kubelet-serving-worker-${i}`, ca: 'ca', subject: `CN=system:node:worker-${i},O=system:nodes`, sans: [`DNS:worker-${i}`, `IP:10.240.0.2${i - 1}`], eku: SERVER },
  ]),
];

const config = configWith({ controlPlanes: 2, workers: 2 });
const root = tempRoot();
const pki = join(root, 'output/pki');
let results: Map<string, unknown>;

test.before(async () => {
  results = await buildDirect(config, root);
});
test.after(() => removeRoot(root));

test('the catalogue is exactly the table', () => {
  const built = [...results.keys()].filter((n) => n.startsWith('certs:') && n !== 'certs:service-account').map((n) => n.slice(6)).sort();
  assert.equal(built, TABLE.map((r) => r.id).sort());
});

for (const row of TABLE) {
  test(`${row.id}: openssl verify against ${row.ca}, subject, SANs, usages`, () => {
    const cert = join(pki, `${row.file}.crt`);
    const verify = run('openssl', ['verify', '-CAfile', join(pki, `${row.ca}.crt`), cert]);
    assert.is(verify.status, 0, verify.stderr + verify.stdout);
    assert.is(verify.stdout.trim(), `${cert}: OK`);
    const text = opensslText(cert);
    assert.is(text.subject, row.subject);
    assert.is(text.issuer, `CN=${row.ca === 'ca' ? 'kubernetes-ca' : row.ca}`);
    assert.equal([...text.sans].sort(), [...row.sans].sort());
    assert.is(text.extKeyUsage, row.eku);
    assert.is(text.basicConstraints, row.isCa ? 'CA:TRUE' : 'CA:FALSE');
    // Chain building by key id: a leaf's AKI is its CA's SKI (CAs carry no AKI).
    assert.match(text.ski, /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    assert.is(text.aki, row.isCa ? '' : opensslText(join(pki, `${row.ca}.crt`)).ski);
    // EC keys: digitalSignature only (keyEncipherment is RSA key transport, meaningless for EC).
    assert.is(text.keyUsage, row.isCa ? 'Digital Signature, Certificate Sign, CRL Sign' : 'Digital Signature');
    assert.match(text.publicKey, /id-ecPublicKey Public-Key: \(256 bit\)/);
    // A cert from one CA must not verify against another (the three CAs are separate trust domains).
    const other = row.ca === 'ca' ? 'etcd-ca' : 'ca';
    assert.is.not(run('openssl', ['verify', '-CAfile', join(pki, `${other}.crt`), cert]).status, 0);
  });
}

test('the result of a cert target names its files, fingerprint, serial and expiry', () => {
  const admin = results.get('certs:admin') as Record<string, string>;
  assert.is(admin.cert, 'output/pki/admin.crt');
  assert.is(admin.key, 'output/pki/admin.key');
  assert.is(admin.ca, 'output/pki/ca.crt');
  const fingerprint = run('openssl', ['x509', '-in', join(pki, 'admin.crt'), '-noout', '-fingerprint', '-sha256']).stdout;
  assert.is(fingerprint.trim().split('=')[1]!.replace(/:/g, '').toLowerCase(), admin.sha256);
  const serial = run('openssl', ['x509', '-in', join(pki, 'admin.crt'), '-noout', '-serial']).stdout;
  assert.is(serial.trim().split('=')[1]!.toLowerCase(), admin.serial);
  assert.ok(new Date(admin.notAfter!).getTime() > Date.now() + 364 * 86_400_000);
});

test('each key matches its cert (openssl pkey public part equals x509 public key)', () => {
  for (const row of TABLE) {
    const fromKey = run('openssl', ['pkey', '-in', join(pki, `${row.file}.key`), '-pubout']).stdout;
    const fromCert = run('openssl', ['x509', '-in', join(pki, `${row.file}.crt`), '-noout', '-pubkey']).stdout;
    assert.is(fromKey, fromCert, row.id);
  }
});

test('service-account key pair: openssl reads the key and its public half matches .pub', () => {
  const fromKey = run('openssl', ['pkey', '-in', join(pki, 'service-account.key'), '-pubout']);
  assert.is(fromKey.status, 0);
  assert.is(fromKey.stdout, run('openssl', ['pkey', '-pubin', '-in', join(pki, 'service-account.pub')]).stdout);
});

test('file modes: pki and kubeconfig dirs 0700, keys and kubeconfigs and encryption config 0600', () => {
  const mode = (p: string) => statSync(join(root, p)).mode & 0o777;
  assert.is(mode('output/pki'), 0o700);
  assert.is(mode('output/kubeconfig'), 0o700);
  assert.is(mode('output/encryption'), 0o700);
  for (const row of TABLE) assert.is(mode(`output/pki/${row.file}.key`), 0o600, row.id);
  assert.is(mode('output/pki/service-account.key'), 0o600);
  assert.is(mode('output/kubeconfig/admin.kubeconfig'), 0o600);
  assert.is(mode('output/encryption/encryption-config.yaml'), 0o600);
});

test('keyAlgorithm rsa: RSA 2048 keys, sha256WithRSA signatures, keyEncipherment kept', async () => {
  const rsaRoot = tempRoot();
  try {
    await buildDirect(configWith({ keyAlgorithm: 'rsa', workers: 1 }), rsaRoot);
    for (const [file, ca, ku] of [
      ['kube-apiserver-controller-1', 'ca', 'Digital Signature, Key Encipherment'],
      ['apiserver-etcd-client', 'etcd-ca', 'Digital Signature, Key Encipherment'],
      ['ca', 'ca', 'Digital Signature, Certificate Sign, CRL Sign'],
    ] as const) {
      const cert = join(rsaRoot, `output/pki/${file}.crt`);
      assert.is(run('openssl', ['verify', '-CAfile', join(rsaRoot, `output/pki/${ca}.crt`), cert]).status, 0);
      const text = opensslText(cert);
      assert.match(text.publicKey, /rsaEncryption Public-Key: \(2048 bit\)/);
      assert.is(text.keyUsage, ku);
      assert.match(run('openssl', ['x509', '-in', cert, '-noout', '-text']).stdout, /Signature Algorithm: sha256WithRSAEncryption/);
    }
  } finally {
    removeRoot(rsaRoot);
  }
});

test.run();
