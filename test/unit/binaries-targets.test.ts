// The binaries step through the real engine, with the `dir` source and shell scripts standing in for the
// binaries (each answers its version question as the real one does): `bin:kubernetes` obtains the six
// together, each `bin:<name>` hands on its own entry, and a cached file that went missing is put back by
// `bin:kubernetes` alone while the per-binary targets stay up to date (same result: early cutoff).
// A changed binary changes only its own bin:<name> result, which is what its dependents' keys read.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuild, type BuildReport } from '../../lib/engine/index.ts';
import { binariesTargets, KUBERNETES_BINARIES, type BinaryResult } from '../../tasks/binaries/index.ts';
import { defaultConfig } from '../../tasks/config/config.ts';

const version = defaultConfig.kubernetesVersion;
const scratch = mkdtempSync(join(tmpdir(), 'harder-bins-unit-'));
const root = join(scratch, 'project');
const cache = join(scratch, 'cache');
const dir = join(scratch, 'given');
const saved = { ...process.env };
test.after(() => {
  process.env = saved;
  rmSync(scratch, { recursive: true, force: true });
});

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test.before(() => {
  mkdirSync(dir, { recursive: true });
  mkdirSync(root, { recursive: true });
  const answers: Record<string, string> = { kubectl: `Client Version: ${version}`, crictl: 'crictl version v1.34.0' };
  for (const name of [...KUBERNETES_BINARIES, 'crictl']) {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\necho '${answers[name] ?? `Kubernetes ${version}`}'\n`, { mode: 0o755 });
    writeFileSync(`${file}.sha256`, `${sha256(file)}  ${name}\n`);
  }
  process.env.HARDER_CACHE = cache;
  process.env.HARDER_BINARIES_DIR = dir;
  process.env.HARDER_K8S_RELEASE_URL = 'http://127.0.0.1:9'; // never asked: the checksums are beside the files
});

async function build(requested: string[]): Promise<BuildReport> {
  const targets = binariesTargets({ ...defaultConfig, binarySource: 'dir' }).all;
  const report = await runBuild({ targets, requested, root, jobs: 2 });
  assert.ok(report.ok, JSON.stringify(report.failures));
  return report;
}

const outcomes = (report: BuildReport) =>
  Object.fromEntries(Object.entries(report.entries).filter(([, e]) => !e.alias).map(([name, e]) => [name, e.outcome]));

test('bin:kubernetes obtains all six; each bin:<name> result is that binary in the cache', async () => {
  const report = await build(['binaries']);
  assert.is(report.entries['bin:kubernetes']!.outcome, 'built');
  for (const name of KUBERNETES_BINARIES) {
    const result = report.entries[`bin:${name}`]!.result as BinaryResult;
    assert.equal(result, { name, version, source: 'dir', path: join(cache, 'bin', version, 'dir', name), sha256: sha256(join(dir, name)) });
  }
  assert.is((report.entries['bin:crictl']!.result as BinaryResult).path, join(cache, 'bin', 'v1.34.0', 'dir', 'crictl'));
});

test('a second run builds nothing', async () => {
  const report = await build(['binaries']);
  assert.ok(Object.values(outcomes(report)).every((o) => o === 'up-to-date'), JSON.stringify(outcomes(report)));
});

test('one cached binary removed: bin:kubernetes puts it back, no per-binary target rebuilds', async () => {
  await rm(join(cache, 'bin', version, 'dir', 'kubelet'));
  const report = await build(['binaries']);
  assert.is(report.entries['bin:kubernetes']!.outcome, 'built');
  assert.match(report.entries['bin:kubernetes']!.reason, 'kubelet is gone from the cache');
  for (const name of KUBERNETES_BINARIES) assert.is(report.entries[`bin:${name}`]!.outcome, 'up-to-date', name);
  assert.is(sha256(join(cache, 'bin', version, 'dir', 'kubelet')), sha256(join(dir, 'kubelet')));
});

test('one given binary changed: only its own bin:<name> result changes, so only its dependents would rebuild', async () => {
  const before = await build(['binaries']);
  writeFileSync(join(dir, 'kube-proxy'), `#!/bin/sh\n# patched\necho 'Kubernetes ${version}'\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'kube-proxy.sha256'), `${sha256(join(dir, 'kube-proxy'))}  kube-proxy\n`);
  // The dir source is re-read only when bin:kubernetes rebuilds: `--force bin:kubernetes` is how a user says so.
  const targets = binariesTargets({ ...defaultConfig, binarySource: 'dir' }).all;
  const forced = await runBuild({ targets, requested: ['bin:kubernetes'], root, jobs: 2, force: true });
  assert.ok(forced.ok, JSON.stringify(forced.failures));
  const report = await build(['binaries']);
  // Every bin:<name> re-reads the changed bin:kubernetes result (a lookup); the results say what changed.
  const changed = KUBERNETES_BINARIES.filter((name) => JSON.stringify(report.entries[`bin:${name}`]!.result) !== JSON.stringify(before.entries[`bin:${name}`]!.result));
  assert.equal(changed, ['kube-proxy']);
  assert.is((report.entries['bin:kube-proxy']!.result as BinaryResult).sha256, sha256(join(dir, 'kube-proxy')));
});

test.run();
