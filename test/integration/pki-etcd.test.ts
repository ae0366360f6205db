// The etcd certs against a real etcd (Debian's etcd-server): a two-member cluster on loopback addresses
// (the IP plan puts the control planes on 127.0.10.0/24, so the certs' IP SANs are real local addresses)
// with client and peer cert auth; etcdctl with the apiserver's etcd client cert can put and get, while
// a cert from another CA, or none, is refused.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDirect, configWith, removeRoot, run, tempRoot } from '../unit/pki-support.ts';

const ETCD = '/usr/bin/etcd';
const config = configWith({ controlPlanes: 2, workers: 1, nodeSubnet: '127.0.10.0/24' });
const root = tempRoot('harder-pki-etcd-');
const dataRoot = mkdtempSync(join(tmpdir(), 'harder-etcd-data-'));
const pki = (name: string) => join(root, 'output/pki', name);
const members = [
  { name: 'controller-1', ip: '127.0.10.10', client: 0, peer: 0, local: 0 },
  { name: 'controller-2', ip: '127.0.10.11', client: 0, peer: 0, local: 0 },
];
const processes: ChildProcess[] = [];
const logs: string[] = [];

/** A port that is free on `host` now (bound then released). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function stopAll(): void {
  for (const child of processes) if (child.exitCode === null && child.pid) child.kill('SIGKILL');
}
process.on('exit', stopAll);

function etcdctl(endpoint: string, args: string[], client?: string, ca = 'etcd-ca.crt') {
  const tlsArgs = ['--cacert', pki(ca), ...(client ? ['--cert', pki(`${client}.crt`), '--key', pki(`${client}.key`)] : [])];
  return run('etcdctl', ['--endpoints', endpoint, '--dial-timeout', '3s', '--command-timeout', '2s', ...tlsArgs, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
}

const local = (m: (typeof members)[number]) => `https://127.0.0.1:${m.local}`;

test.before(async () => {
  try {
    await start();
  } catch (error) {
    console.error(error);
    throw error;
  }
});

async function start(): Promise<void> {
  await buildDirect(config, root);
  for (const m of members) {
    m.client = await freePort(m.ip);
    m.peer = await freePort(m.ip);
    m.local = await freePort('127.0.0.1');
  }
  const initialCluster = members.map((m) => `${m.name}=https://${m.ip}:${m.peer}`).join(',');
  for (const m of members) {
    const child = spawn(ETCD, [
      '--name', m.name,
      '--data-dir', join(dataRoot, m.name),
      '--listen-client-urls', `https://${m.ip}:${m.client},${local(m)}`,
      '--advertise-client-urls', `https://${m.ip}:${m.client}`,
      '--listen-peer-urls', `https://${m.ip}:${m.peer}`,
      '--initial-advertise-peer-urls', `https://${m.ip}:${m.peer}`,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', 'harder-pki-test',
      '--client-cert-auth', '--trusted-ca-file', pki('etcd-ca.crt'),
      '--cert-file', pki(`etcd-server-${m.name}.crt`), '--key-file', pki(`etcd-server-${m.name}.key`),
      '--peer-client-cert-auth', '--peer-trusted-ca-file', pki('etcd-ca.crt'),
      '--peer-cert-file', pki(`etcd-peer-${m.name}.crt`), '--peer-key-file', pki(`etcd-peer-${m.name}.key`),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => logs.push(`[${m.name}] ${d}`));
    child.stderr!.on('data', (d) => logs.push(`[${m.name}] ${d}`));
    processes.push(child);
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const health = etcdctl(local(members[0]!), ['endpoint', 'health'], 'apiserver-etcd-client');
    if (health.status === 0) break;
    if (Date.now() > deadline || processes.some((p) => p.exitCode !== null)) {
      throw new Error(`etcd did not become healthy: ${health.stderr}\n${logs.join('').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

test.after(async () => {
  for (const child of processes) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  rmSync(dataRoot, { recursive: true, force: true });
  removeRoot(root);
});

test('both members formed one cluster over peer TLS (peer certs accepted both ways)', () => {
  const list = etcdctl(local(members[0]!), ['member', 'list', '-w', 'json'], 'apiserver-etcd-client');
  assert.is(list.status, 0, list.stderr);
  const names = (JSON.parse(list.stdout).members as { name: string }[]).map((m) => m.name).sort();
  assert.equal(names, ['controller-1', 'controller-2']);
});

test('etcdctl with the apiserver etcd client cert can put and get, on every member address', () => {
  const put = etcdctl(local(members[0]!), ['put', '/registry/pki-test', 'hello'], 'apiserver-etcd-client');
  assert.is(put.status, 0, put.stderr);
  assert.is(put.stdout.trim(), 'OK');
  for (const m of members) {
    for (const endpoint of [`https://${m.ip}:${m.client}`, local(m)]) {
      const get = etcdctl(endpoint, ['get', '/registry/pki-test', '--print-value-only'], 'apiserver-etcd-client');
      assert.is(get.status, 0, `${endpoint}: ${get.stderr}`);
      assert.is(get.stdout.trim(), 'hello', endpoint);
    }
  }
});

test("etcd's HTTP gateway answers: it dials its own member with the server cert as a client cert", async () => {
  const { request } = await import('node:https');
  const key = Buffer.from('/registry/pki-test').toString('base64');
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(
      `${local(members[1]!)}/v3/kv/range`,
      { method: 'POST', ca: readFileSync(pki('etcd-ca.crt')), cert: readFileSync(pki('apiserver-etcd-client.crt')), key: readFileSync(pki('apiserver-etcd-client.key')) },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ key }));
  });
  assert.match(body, /^200 /);
  const kvs = JSON.parse(body.slice(4)).kvs as { value: string }[];
  assert.is(Buffer.from(kvs[0]!.value, 'base64').toString(), 'hello');
});

test('etcd logged no TLS-rejected connection so far (peers, its own gateway, the good client)', () => {
  // (An "EOF" rejection can come from a health probe that gave up while etcd was starting.)
  assert.not.match(logs.join(''), /rejected connection .*(x509|tls:|certificate)/);
});

test('the etcd serving cert of each member carries its name, its planned IP and loopback', () => {
  const text = run('openssl', ['x509', '-in', pki('etcd-server-controller-2.crt'), '-noout', '-ext', 'subjectAltName']).stdout;
  assert.match(text, /DNS:controller-2, IP Address:127\.0\.10\.11, DNS:localhost, IP Address:127\.0\.0\.1/);
});

/** etcdctl 3.4 reports refused TLS only as a deadline; etcd's log says why, so read what it logged meanwhile. */
async function logsDuring(fn: () => void): Promise<string> {
  const before = logs.length;
  fn();
  // etcdctl runs synchronously, so etcd's output is read only once the event loop turns again.
  await new Promise((r) => setTimeout(r, 500));
  return logs.slice(before).join('');
}

test('a client cert from another CA (the cluster CA) is refused: etcd says unknown authority', async () => {
  for (const client of ['admin', 'apiserver-kubelet-client']) {
    const logged = await logsDuring(() => {
      const get = etcdctl(local(members[0]!), ['get', '/registry/pki-test'], client);
      assert.is.not(get.status, 0, client);
      assert.match(get.stderr, /context deadline exceeded/);
    });
    assert.match(logged, /rejected connection from "127\.0\.0\.1:\d+" \(error "tls: failed to verify client(?:'s)? certificate: x509: certificate signed by unknown authority/, client);
  }
});

test('no client cert is refused', async () => {
  const logged = await logsDuring(() => assert.is.not(etcdctl(local(members[0]!), ['get', '/registry/pki-test']).status, 0));
  assert.match(logged, /rejected connection .*client didn'?t provide a certificate/);
});

test('etcd is not trusted through the cluster CA: a client trusting only it refuses the etcd server', async () => {
  const logged = await logsDuring(() => assert.is.not(etcdctl(local(members[0]!), ['get', '/registry/pki-test'], 'apiserver-etcd-client', 'ca.crt').status, 0));
  // The client aborts the handshake; etcd sees the alert the client sent.
  assert.match(logged, /rejected connection .*remote error: tls: bad certificate/);
});

test.run();
