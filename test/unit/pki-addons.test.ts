// The add-ons' certificates, issued like every other from csr/ and checked with the real openssl: the
// Ingress's default cert is a wildcard for the domain (one label deep) and the domain itself; metrics-server's
// names its Service; both are server certs of the cluster CA, in the catalogue only while their add-on is
// on, and certs:check covers them. A domain that is not one is refused by the config check.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { defaultAddons } from '../../tasks/addons/spec.ts';
import { leafCatalog } from '../../tasks/certs/catalog.ts';
import { certsCheckTarget } from '../../tasks/certs/check.ts';
import { checkConfigFields, type ClusterConfig } from '../../tasks/config/config.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';
import { buildDirect, configWith, opensslText, removeRoot, run, tempRoot } from './pki-support.ts';

const on = (domain = ''): ClusterConfig => {
  const addons = defaultAddons();
  addons.ingress = { enabled: true, domain };
  addons['metrics-server'] = { enabled: true };
  return configWith({ addons });
};
const config = on();
const root = tempRoot();
const pki = join(root, 'output/pki');

test.before(async () => {
  await buildDirect(config, root);
});
test.after(() => removeRoot(root));

const checkhost = (file: string, host: string) => run('openssl', ['x509', '-in', join(pki, file), '-noout', '-checkhost', host]).stdout.trim();

test('ingress-default: *.harder.test and harder.test, a server cert of the cluster CA', () => {
  const verify = run('openssl', ['verify', '-CAfile', join(pki, 'ca.crt'), join(pki, 'ingress-default.crt')]);
  assert.is(verify.status, 0, verify.stderr);
  const text = opensslText(join(pki, 'ingress-default.crt'));
  assert.is(text.subject, 'CN=ingress-default');
  assert.equal([...text.sans].sort(), ['DNS:*.harder.test', 'DNS:harder.test']);
  assert.is(text.extKeyUsage, 'TLS Web Server Authentication');
  assert.is(checkhost('ingress-default.crt', 'demo.harder.test'), 'Hostname demo.harder.test does match certificate');
  assert.is(checkhost('ingress-default.crt', 'harder.test'), 'Hostname harder.test does match certificate');
  // A wildcard covers one label: a name two levels down needs a certificate of its own.
  assert.is(checkhost('ingress-default.crt', 'a.demo.harder.test'), 'Hostname a.demo.harder.test does NOT match certificate');
});

test("metrics-server: the Service's names, a server cert of the cluster CA", () => {
  const verify = run('openssl', ['verify', '-CAfile', join(pki, 'ca.crt'), join(pki, 'metrics-server.crt')]);
  assert.is(verify.status, 0, verify.stderr);
  const text = opensslText(join(pki, 'metrics-server.crt'));
  assert.equal([...text.sans].sort(), ['DNS:metrics-server.kube-system.svc', 'DNS:metrics-server.kube-system.svc.cluster.local']);
  assert.is(text.extKeyUsage, 'TLS Web Server Authentication');
});

test('certs:check covers both', async () => {
  const lines: string[] = [];
  const check = certsCheckTarget(config, planIps(config));
  await check.build!({ deps: {}, root, outDir: join(root, 'output'), signal: new AbortController().signal, log: (l) => lines.push(l), previous: undefined, reason: 'test' });
  assert.ok(lines.some((l) => /^ingress-default\s+CN=ingress-default\s+harder\.test, \*\.harder\.test\s.*\sok$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^metrics-server\s+CN=metrics-server\s.*\sok$/.test(l)), lines.join('\n'));
});

test('in the catalogue only while the add-on is on; the domain follows the spec', () => {
  const ids = (c: ClusterConfig) => leafCatalog(c, planIps(c)).map((s) => s.id);
  assert.not.ok(ids(configWith()).includes('ingress-default'));
  assert.not.ok(ids(configWith()).includes('metrics-server'));
  assert.ok(ids(config).includes('ingress-default') && ids(config).includes('metrics-server'));
  const custom = on('apps.example.test');
  assert.equal(leafCatalog(custom, planIps(custom)).find((s) => s.id === 'ingress-default')!.vars, { ingressDomain: 'apps.example.test' });
  const named = { ...config, clusterName: 'lab' };
  assert.equal(leafCatalog(named, planIps(named)).find((s) => s.id === 'ingress-default')!.vars, { ingressDomain: 'lab.test' });
});

test('a domain that is not one is a config error naming addons.ingress.domain', () => {
  for (const bad of ['localhost', 'bad_domain.test', '-x.test', 'a..test']) {
    const problems = checkConfigFields(on(bad)).errors.filter((p) => p.field === 'addons.ingress.domain');
    assert.is(problems.length, 1, `${bad}: ${JSON.stringify(checkConfigFields(on(bad)).errors)}`);
  }
  assert.equal(checkConfigFields(on('apps.example.test')).errors, []);
});

test.run();
