// Request and signing configs: every bad-input fixture fails with one message naming file and field.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PkiInputError } from '../../lib/pki/errors.ts';
import { parseGoDuration } from '../../lib/pki/duration.ts';
import { classifyHost } from '../../lib/pki/host-names.ts';
import { organizations, parseCertRequest, resolveRequest } from '../../lib/pki/request.ts';
import { parseSigningConfig } from '../../lib/pki/signing-config.ts';
import { REPO } from './pki-support.ts';

const FIXTURES = 'test/fixtures/pki';
const read = (name: string) => readFileSync(join(REPO, FIXTURES, name), 'utf8');
const request = (name: string, vars = {}) => resolveRequest(parseCertRequest(read(name), `${FIXTURES}/${name}`), vars);

function failure(fn: () => unknown): PkiInputError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, PkiInputError);
    return error as PkiInputError;
  }
  assert.unreachable('expected a PkiInputError');
  throw new Error('unreachable');
}

const INVALID_REQUESTS: [string, string, RegExp][] = [
  ['invalid-malformed.json', '', /^test\/fixtures\/pki\/invalid-malformed\.json: is not valid JSON \(/],
  ['invalid-key-algo.json', 'key.algo', /field "key\.algo": unknown key algorithm "dsa"$/],
  ['invalid-key-size.json', 'key.size', /field "key\.size": 1024 is not a supported rsa key size$/],
  ['invalid-empty-cn.json', 'CN', /invalid-empty-cn\.json, field "CN": is empty$/],
  ['invalid-san.json', 'hosts[2]', /field "hosts\[2\]": "not a host!" is neither an IP address nor a DNS name$/],
  ['invalid-san-ip.json', 'hosts[0]', /field "hosts\[0\]": "10\.32\.0\.256" is neither an IP address nor a DNS name$/],
  ['invalid-unknown-field.json', 'host', /field "host": is not a request config field$/],
  ['invalid-unknown-variable.json', 'CN', /field "CN": unknown variable \$\{nodeName\}$/],
  ['invalid-names.json', 'names[0].Org', /field "names\[0\]\.Org": is not a name attribute$/],
];

for (const [file, field, message] of INVALID_REQUESTS) {
  test(`request ${file} is refused, naming the file and field`, () => {
    const error = failure(() => request(file, { node: 'worker-1' }));
    assert.is(error.file, `${FIXTURES}/${file}`);
    assert.is(error.field ?? '', field);
    assert.match(error.message, message);
    assert.ok(error.message.startsWith(`${FIXTURES}/${file}`), error.message);
  });
}

test('hints say what to do', () => {
  assert.match(failure(() => request('invalid-key-algo.json')).hint ?? '', /use "ecdsa" \(size 256 or 384\) or "rsa"/);
  assert.match(failure(() => request('invalid-unknown-field.json')).hint ?? '', /known fields: CN, names, hosts, key, ca/);
  assert.match(failure(() => request('invalid-unknown-variable.json', { node: 'x' })).hint ?? '', /\$\{node\}/);
});

test('valid-rsa-4096: key, groups in order', () => {
  const r = request('valid-rsa-4096.json');
  assert.equal(r.key, { algo: 'rsa', size: 4096 });
  assert.is(r.CN, 'admin');
  assert.equal(organizations(r), ['system:masters', 'ops']);
  assert.equal(r.hosts, []);
});

test('valid-template: placeholders filled, list variables expand, hosts classified and de-duplicated', () => {
  const r = request('valid-template.json', { node: 'worker-3', nodeIp: '10.240.0.22', extra: ['10.240.0.22', 'Worker-3.Example.com'] });
  assert.is(r.CN, 'system:node:worker-3');
  assert.equal(r.hosts, [
    { type: 'dns', value: 'worker-3' },
    { type: 'ip', value: '10.240.0.22' },
    { type: 'dns', value: 'worker-3.example.com' },
    { type: 'dns', value: '*.apps.example.com' },
    { type: 'ip', value: '::1' },
  ]);
  assert.is(r.key, undefined);
});

test('a list variable inside a longer string is refused', () => {
  const error = failure(() => request('valid-template.json', { node: ['a', 'b'], nodeIp: '10.0.0.1', extra: [] }));
  assert.is(error.field, 'CN');
  assert.match(error.message, /\$\{node\} is a list/);
});

test('valid-ca: ca.expiry in hours', () => {
  const r = request('valid-ca.json');
  assert.is(r.caExpiryMs, 43800 * 3_600_000);
  assert.equal(r.key, { algo: 'ecdsa', size: 384 });
});

const INVALID_CONFIGS: [string, string, RegExp][] = [
  ['invalid-config-usage.json', 'signing.profiles.server.usages[2]', /unknown usage "serverauth"$/],
  ['invalid-config-expiry.json', 'signing.profiles.client.expiry', /"365d" is not a duration$/],
  ['invalid-config-ca.json', 'signing.profiles.ca.usages', /a CA profile \(ca_constraint\.is_ca\) must include "cert sign"$/],
];

for (const [file, field, message] of INVALID_CONFIGS) {
  test(`signing config ${file} is refused, naming the file and field`, () => {
    const error = failure(() => parseSigningConfig(read(file), `${FIXTURES}/${file}`));
    assert.is(error.field, field);
    assert.match(error.message, message);
    assert.ok(error.message.startsWith(`${FIXTURES}/${file}, field "${field}"`), error.message);
  });
}

test('valid signing config: usages split into key usages and EKUs, cfssl path-length rules', () => {
  const config = parseSigningConfig(read('valid-config.json'), 'valid-config.json');
  const ca = config.profiles.ca!;
  assert.ok(ca.isCa);
  assert.is(ca.maxPathLen, 0);
  assert.equal(ca.keyUsages, ['keyCertSign', 'cRLSign']);
  assert.equal(ca.extKeyUsages, []);
  const peer = config.profiles.peer!;
  assert.equal(peer.keyUsages, ['digitalSignature', 'keyEncipherment']);
  assert.equal(peer.extKeyUsages, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.is(peer.expiryMs, 90 * 60_000);
  assert.not.ok(peer.isCa);
});

test('the repo csr/ files all parse, and ca-config has the four profiles with the right EKUs', () => {
  const config = parseSigningConfig(readFileSync(join(REPO, 'csr/ca-config.json'), 'utf8'), 'csr/ca-config.json');
  assert.equal(Object.keys(config.profiles).sort(), ['ca', 'client', 'peer', 'server']);
  assert.equal(config.profiles.server!.extKeyUsages, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(config.profiles.client!.extKeyUsages, ['1.3.6.1.5.5.7.3.2']);
  assert.equal(config.profiles.peer!.extKeyUsages, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
});

test('Go durations as cfssl writes them', () => {
  assert.is(parseGoDuration('8760h'), 8760 * 3_600_000);
  assert.is(parseGoDuration('1h30m10s'), 5410_000);
  assert.is(parseGoDuration('1.5h'), 5_400_000);
  assert.is(parseGoDuration('365d'), undefined);
  assert.is(parseGoDuration('0h'), undefined);
  assert.is(parseGoDuration(''), undefined);
});

test('host classification', () => {
  assert.equal(classifyHost('10.32.0.1'), { type: 'ip', value: '10.32.0.1' });
  assert.equal(classifyHost('fd00::1'), { type: 'ip', value: 'fd00::1' });
  assert.equal(classifyHost('kubernetes.default.svc.cluster.local'), { type: 'dns', value: 'kubernetes.default.svc.cluster.local' });
  assert.equal(classifyHost('*.k8s.local'), { type: 'dns', value: '*.k8s.local' });
  for (const bad of ['10.32.0.256', '1.2.3', '-bad.example', 'under_score', 'a..b', '', 'a'.repeat(64), 'x.*.y']) {
    assert.is(classifyHost(bad), undefined, bad);
  }
});

test.run();
