// `certs:renew` (tasks/certs/renew.ts) through the real engine in a temp project root: two certificates are
// re-issued as if 340 days ago (lib/pki's issue with an earlier `now`, their keys kept), so they have 25
// days left; a renewal with --threshold 30 picks exactly those, re-issues them with the same key and a new
// serial, rebuilds the one kubeconfig that embeds one of them, and changes no other file. A dry run writes
// nothing; a second renewal renews nothing; a CA under the threshold stops it before anything is written.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBuild, type BuildReport } from '../../lib/engine/index.ts';
import type { AnyTarget } from '../../lib/engine/target.ts';
import { describeCertificate } from '../../lib/pki/inspect.ts';
import { issueToFiles } from '../../lib/pki/issue-to-files.ts';
import { certCatalog, SIGNING_CONFIG } from '../../tasks/certs/catalog.ts';
import { defaultKeySpec } from '../../tasks/certs/pki.ts';
import { CaExpiringError, planRenewal, renewCommand } from '../../tasks/certs/renew.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';
import { projectTargets } from '../../tasks/index.ts';
import { configWith, removeRoot, tempRoot } from './pki-support.ts';

const root = tempRoot('harder-renew-');
test.after(() => removeRoot(root));
const config = configWith({ workers: 2 });
const registry = projectTargets(config);
const catalog = new Map(certCatalog(config, planIps(config)).map((c) => [c.id, c]));
const DAY = 86_400_000;

/** sha256 of every file under output/pki and output/kubeconfig, by path. */
function hashes(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const dir of ['output/pki', 'output/kubeconfig']) {
    for (const name of readdirSync(join(root, dir))) out[`${dir}/${name}`] = createHash('sha256').update(readFileSync(join(root, dir, name))).digest('hex');
  }
  return out;
}
const changed = (before: Record<string, string>, after: Record<string, string>) => Object.keys(after).filter((p) => before[p] !== after[p]).sort();
const cert = (id: string) => describeCertificate(readFileSync(join(root, catalog.get(id)!.cert), 'utf8'), id);
const built = (report: BuildReport) => Object.entries(report.entries).filter(([, e]) => e.outcome === 'built' && !e.alias).map(([n]) => n).sort();

/** Re-issues a catalogue certificate as if it had been issued `daysAgo` days ago, from its CA, its key kept. */
async function issuedDaysAgo(id: string, daysAgo: number): Promise<void> {
  const spec = catalog.get(id)!;
  const signer = spec.signer ? catalog.get(spec.signer)! : undefined;
  const issued = await issueToFiles({
    root, request: spec.request, vars: spec.vars, signingConfig: SIGNING_CONFIG, profile: spec.profile, defaultKey: defaultKeySpec(config),
    cert: spec.cert, key: spec.key, now: new Date(Date.now() - daysAgo * DAY), ...(signer ? { signer: { cert: signer.cert, key: signer.key } } : {}),
  });
  assert.ok(issued.keyReused, `${id}: key kept`);
}

/** What the CLI does for `certs:renew [--threshold N] [-n]`: the command's targets, built with its rebuilds. */
async function renew(threshold: string | undefined, dryRun = false): Promise<BuildReport> {
  const answer = await renewCommand().targets([], config, registry, { flags: threshold ? { threshold } : {}, root, outDir: join(root, 'output') });
  assert.ok(!Array.isArray(answer));
  const generated = answer.targets.filter((t) => !registry.includes(t));
  const report = await runBuild({ targets: [...registry, ...generated] as AnyTarget[], requested: answer.targets.map((t) => t.name), rebuild: answer.rebuild ?? {}, root, dryRun, jobs: 2 });
  assert.ok(report.ok, JSON.stringify(report.failures));
  return report;
}

test('setup: the PKI is built, then kube-apiserver and kube-proxy are re-issued as if 340 days ago (25 days left, same keys)', async () => {
  const first = await runBuild({ targets: registry, requested: ['certs'], root, jobs: 2 });
  assert.ok(first.ok, JSON.stringify(first.failures));
  await issuedDaysAgo('kube-apiserver:controller-1', 340);
  await issuedDaysAgo('kube-proxy', 340);
  const plan = await planRenewal(config, root, 30);
  assert.equal(plan.renew.map((c) => [c.id, c.daysLeft]), [['kube-proxy', 24], ['kube-apiserver:controller-1', 24]]);
  assert.is(plan.keep.length, 12);
  assert.equal(plan.expiringCas, []);
});

test('a dry run names exactly those two with their expiry, and writes nothing', async () => {
  const before = hashes();
  const report = await renew('30', true);
  assert.match(report.entries['certs:kube-apiserver:controller-1']!.reason, /^expires in 24 days \(\d{4}-\d\d-\d\d\), under the renewal threshold of 30 days$/);
  assert.is(report.entries['certs:kube-proxy']!.outcome, 'would-build');
  assert.is(report.entries['kubeconfig:kube-proxy']!.outcome, 'would-build');
  assert.not.ok('certs:admin' in report.entries, 'nothing else is even looked at');
  assert.equal(hashes(), before);
});

test('the renewal re-issues exactly those two (new serial, a year left, same key) and the kube-proxy kubeconfig; no other file changes', async () => {
  const before = hashes();
  const old = { apiserver: cert('kube-apiserver:controller-1'), proxy: cert('kube-proxy') };
  const report = await renew('30');
  assert.equal(built(report), ['certs:kube-apiserver:controller-1', 'certs:kube-proxy', 'certs:renew:report', 'kubeconfig:kube-proxy']);
  const after = hashes();
  assert.equal(changed(before, after), ['output/kubeconfig/kube-proxy.kubeconfig', 'output/pki/kube-apiserver-controller-1.crt', 'output/pki/kube-proxy.crt']);
  for (const [id, was] of [['kube-apiserver:controller-1', old.apiserver], ['kube-proxy', old.proxy]] as const) {
    const now = cert(id);
    assert.is.not(now.serial, was.serial, `${id}: new serial`);
    assert.ok(now.notAfter.getTime() - Date.now() > 360 * DAY, `${id}: a year left`);
    assert.equal(now.sans, was.sans);
  }
  // certs then has nothing left to do: the records are the renewed certificates.
  const certs = await runBuild({ targets: registry, requested: ['certs'], root, jobs: 2 });
  assert.equal(built(certs), []);
});

test('a second renewal renews nothing (the report says which is soonest) and changes no file', async () => {
  const before = hashes();
  const report = await renew(undefined);
  assert.equal(built(report), ['certs:renew:report']);
  assert.equal(hashes(), before);
});

test('a threshold over the CAs\' days left stops before anything is written, naming each CA and what to do', async () => {
  const before = hashes();
  try {
    await renew('4000');
    assert.unreachable('a CA under the threshold must stop the renewal');
  } catch (error) {
    assert.instance(error, CaExpiringError);
    const e = error as CaExpiringError;
    assert.match(e.message, /^certs:renew: ca \(output\/pki\/ca\.crt\) expires in 36\d\d days .*etcd-ca .*front-proxy-ca .*under the threshold of 4000 days\. A CA is precious and certs:renew never re-issues it: rotating a CA is out of scope \(docs\/pki\.md\)\. Nothing was renewed$/);
    assert.match(e.hint ?? '', /--threshold 36\d\d\)$/);
  }
  assert.equal(hashes(), before);
});

test('--threshold must be whole days from 1', async () => {
  for (const bad of ['0', 'x', '1.5', '-3', '99999']) {
    await Promise.resolve().then(() => renewCommand().targets([], config, registry, { flags: { threshold: bad }, root, outDir: join(root, 'output') })).then(
      () => assert.unreachable(bad),
      (e: Error & { kind?: string }) => {
        assert.is(e.kind, 'bad-flag', bad);
        assert.match(e.message, new RegExp(`^--threshold wants whole days from 1 to 36500, got "${bad.replace('.', '\\.')}"$`));
      },
    );
  }
});

test.run();
