// Real TLS handshakes with node:tls: the apiserver cert serves, each client cert authenticates with
// client-cert verification on, and certs from the wrong CA or with the wrong EKU are refused.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { buildDirect, configWith, removeRoot, tempRoot } from './pki-support.ts';

const root = tempRoot();
const file = (name: string) => readFileSync(join(root, 'output/pki', name));
let server: tls.Server;
let port = 0;
/** The identity the server saw on the last accepted connection. */
const seen: string[] = [];

test.before(async () => {
  await buildDirect(configWith({ workers: 2 }), root);
  server = tls.createServer({
    cert: file('kube-apiserver-controller-1.crt'),
    key: file('kube-apiserver-controller-1.key'),
    ca: file('ca.crt'),
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on('secureConnection', (socket) => {
    const peer = socket.getPeerCertificate();
    const groups = peer.subject.O === undefined ? [] : ([] as string[]).concat(peer.subject.O);
    seen.push([peer.subject.CN, ...groups].join('|'));
    socket.end('ok');
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

test.after(async () => {
  await new Promise((resolve) => server.close(resolve));
  removeRoot(root);
});

type Outcome = { ok: true; serverCN: string; data: string } | { ok: false; error: string };

/** Connects with a client cert, verifying the server against the cluster CA for `servername`. */
function connect(clientCert: string | undefined, servername: string, ca = 'ca.crt'): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: /^\d/.test(servername) ? undefined : servername,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(servername, cert),
      ca: file(ca),
      ...(clientCert ? { cert: file(`${clientCert}.crt`), key: file(`${clientCert}.key`) } : {}),
      rejectUnauthorized: true,
    });
    let data = '';
    socket.on('data', (chunk) => (data += chunk));
    // With TLS 1.3 the client finishes its side before the server has judged the client cert, so a
    // refused client sees the connection close (or an alert) instead of a handshake error: success is
    // the server's reply arriving.
    socket.on('end', () => resolve(data === 'ok' ? { ok: true, serverCN: String(socket.getPeerCertificate().subject.CN), data } : { ok: false, error: 'closed by the server without a reply' }));
    socket.on('error', (error) => resolve({ ok: false, error: error.message }));
  });
}

const CLIENTS: [string, string][] = [
  ['admin', 'admin|system:masters'],
  ['kube-controller-manager', 'system:kube-controller-manager'],
  ['kube-scheduler', 'system:kube-scheduler'],
  ['kube-proxy', 'system:kube-proxy'],
  ['apiserver-kubelet-client', 'kube-apiserver-kubelet-client'],
  ['kubelet-worker-1', 'system:node:worker-1|system:nodes'],
  ['kubelet-worker-2', 'system:node:worker-2|system:nodes'],
];

for (const [client, identity] of CLIENTS) {
  test(`${client}: handshake succeeds and the server sees ${identity}`, async () => {
    seen.length = 0;
    const outcome = await connect(client, 'kubernetes.default.svc.cluster.local');
    assert.ok(outcome.ok, !outcome.ok ? outcome.error : '');
    if (outcome.ok) {
      assert.is(outcome.serverCN, 'kube-apiserver');
      assert.is(outcome.data, 'ok');
    }
    assert.equal(seen, [identity]);
  });
}

for (const name of ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'localhost', 'controller-1', '10.32.0.1', '10.240.0.10', '127.0.0.1']) {
  test(`the apiserver cert is valid for ${name}`, async () => {
    const outcome = await connect('admin', name);
    assert.ok(outcome.ok, !outcome.ok ? outcome.error : '');
  });
}

test('the apiserver cert is not valid for a worker IP or an unrelated name', async () => {
  for (const name of ['10.240.0.20', 'example.com']) {
    const outcome = await connect('admin', name);
    assert.not.ok(outcome.ok, name);
    if (!outcome.ok) assert.match(outcome.error, /not in the cert's (altnames|list)|does not match certificate's altnames/);
  }
});

test('no client cert: refused (requestCert + rejectUnauthorized)', async () => {
  const outcome = await connect(undefined, 'kubernetes');
  assert.not.ok(outcome.ok);
});

test('client certs from the etcd and front-proxy CAs are refused by a server trusting the cluster CA', async () => {
  for (const client of ['apiserver-etcd-client', 'front-proxy-client']) {
    seen.length = 0;
    const outcome = await connect(client, 'kubernetes');
    assert.not.ok(outcome.ok, client);
    assert.equal(seen, []);
  }
});

test('a serving cert (serverAuth only) cannot be used as a client cert', async () => {
  seen.length = 0;
  const outcome = await connect('kubelet-serving-worker-1', 'kubernetes');
  assert.not.ok(outcome.ok);
  assert.equal(seen, []);
});

test('the client refuses the server when it trusts another CA', async () => {
  const outcome = await connect('admin', 'kubernetes', 'etcd-ca.crt');
  assert.not.ok(outcome.ok);
  if (!outcome.ok) assert.match(outcome.error, /unable to (verify|get) |self[- ]signed/, outcome.error);
});

test.run();
