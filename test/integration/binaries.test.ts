// The go source builds real binaries from the k8s.io/kubernetes (all six in one go build) and cri-tools
// modules (cached in ~/.cache/harder across runs) and they report the pinned version; the release source
// verifies against a local mirror; the dir source checks what it is given.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { binariesTargets, cachedBinaryPath, KUBERNETES_BINARIES, probeBinary, type BinaryResult, type KubernetesBinariesResult } from '../../tasks/binaries/index.ts';
import { defaultConfig, type BinarySource, type ClusterConfig } from '../../tasks/config/config.ts';
import type { AnyTarget } from '../../lib/engine/target.ts';

const run = promisify(execFile);
const version = defaultConfig.kubernetesVersion;
const lines: string[] = [];

/** Runs a target's build the way the engine does (no deps: bin:kubernetes, bin:crictl), recording the progress lines. */
async function build<R = BinaryResult>(t: AnyTarget): Promise<R> {
  const ctx = {
    deps: {},
    signal: new AbortController().signal,
    log: (line: string) => {
      lines.push(line);
      console.log(`  [${t.name}] ${line}`);
    },
    root: process.cwd(),
    outDir: join(process.cwd(), 'output'),
    previous: undefined,
    reason: 'test',
  };
  return (await t.build!(ctx)) as R;
}

function configWith(binarySource: BinarySource): ClusterConfig {
  return { ...defaultConfig, binarySource };
}

let goAll: KubernetesBinariesResult;
let goScheduler: BinaryResult;

test('go source: the six binaries built from the module report the pinned version', async () => {
  const targets = binariesTargets(configWith('go'));
  const started = Date.now();
  goAll = await build<KubernetesBinariesResult>(targets.kubernetes);
  goScheduler = goAll['kube-scheduler'];
  console.log(`  Kubernetes binaries from go: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(Object.keys(goAll).sort(), [...KUBERNETES_BINARIES].sort());
  for (const name of KUBERNETES_BINARIES) assert.is(goAll[name].path, cachedBinaryPath(name, version, 'go'));
  assert.match((await run(goAll.kubectl.path, ['version', '--client'])).stdout, `Client Version: ${version}`);
  assert.is(goScheduler.name, 'kube-scheduler');
  assert.is(goScheduler.version, version);
  assert.is(goScheduler.source, 'go');
  assert.is(goScheduler.path, cachedBinaryPath('kube-scheduler', version, 'go'));
  const { stdout } = await run(goScheduler.path, ['--version']);
  assert.is(stdout.trim(), `Kubernetes ${version}`);
  assert.is(createHash('sha256').update(await readFile(goScheduler.path)).digest('hex'), goScheduler.sha256);
  assert.is(await probeBinary(goScheduler), undefined, 'probe accepts the cached file');
});

test('go source: a second build reuses the cached binaries without running go build', async () => {
  const targets = binariesTargets(configWith('go'));
  lines.length = 0;
  const started = Date.now();
  const again = await build<KubernetesBinariesResult>(targets.kubernetes);
  assert.equal(again, goAll);
  assert.is(lines.filter((l) => l.startsWith('reusing ')).length, 6, 'says it reused each from the cache');
  assert.not.ok(lines.some((l) => l.startsWith('go build')), 'no go build');
  assert.ok(Date.now() - started < 20_000);
});

test('go source: crictl from sigs.k8s.io/cri-tools', async () => {
  const crictl = await build(binariesTargets(configWith('go')).crictl);
  assert.is(crictl.version, 'v1.34.0');
  const { stdout } = await run(crictl.path, ['--version']);
  assert.match(stdout, 'crictl version v1.34.0');
});

/** A mirror of dl.k8s.io's layout serving the go-built binaries as if they were the release files. */
async function startMirror(binaries: KubernetesBinariesResult): Promise<{ server: Server; base: string }> {
  const prefix = `/release/${version}/bin/linux/amd64/`;
  const server = createServer((req, res) => {
    const name = (req.url ?? '').startsWith(prefix) ? (req.url ?? '').slice(prefix.length) : '';
    const binary = binaries[name.replace(/\.sha256$/, '') as keyof KubernetesBinariesResult];
    if (!binary) res.writeHead(404).end();
    else if (name.endsWith('.sha256')) res.writeHead(200).end(binary.sha256);
    else readFile(binary.path).then((body) => res.writeHead(200, { 'content-length': body.length }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test('release source: downloads from the mirror base URL, verified, into its own cache path', async () => {
  const cache = await mkdtemp(join(tmpdir(), 'harder-cache-'));
  const mirror = await startMirror(goAll);
  const saved = { ...process.env };
  process.env.HARDER_CACHE = cache;
  process.env.HARDER_K8S_RELEASE_URL = mirror.base;
  try {
    const all = await build<KubernetesBinariesResult>(binariesTargets(configWith('release')).kubernetes);
    for (const name of KUBERNETES_BINARIES) assert.is(all[name].sha256, goAll[name].sha256, name);
    const result = all['kube-scheduler'];
    assert.is(result.source, 'release');
    assert.is(result.path, join(cache, 'bin', version, 'release', 'kube-scheduler'));
    assert.is(result.sha256, goScheduler.sha256);
    const { stdout } = await run(result.path, ['--version']);
    assert.is(stdout.trim(), `Kubernetes ${version}`);
    // auto picks the release files when their host answers.
    const auto = await build<KubernetesBinariesResult>(binariesTargets(configWith('auto')).kubernetes);
    assert.is(auto['kube-scheduler'].source, 'release');
  } finally {
    process.env = saved;
    mirror.server.close();
    await rm(cache, { recursive: true, force: true });
  }
});

test('release source for crictl: the tarball is verified, then crictl is extracted from it', async () => {
  const cache = await mkdtemp(join(tmpdir(), 'harder-cache-'));
  const crictl = await build(binariesTargets(configWith('go')).crictl);
  const tar = await import('tar-stream');
  const pack = tar.pack();
  const body = await readFile(crictl.path);
  pack.entry({ name: 'crictl', size: body.length, mode: 0o755 }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack.pipe(createGzip())) chunks.push(chunk as Buffer);
  const tarball = Buffer.concat(chunks);
  const file = 'crictl-v1.34.0-linux-amd64.tar.gz';
  const server = createServer((req, res) => {
    if (req.url === `/cri/v1.34.0/${file}`) res.writeHead(200, { 'content-length': tarball.length }).end(tarball);
    else if (req.url === `/cri/v1.34.0/${file}.sha256`) res.writeHead(200).end(`${createHash('sha256').update(tarball).digest('hex')}  ${file}\n`);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const saved = { ...process.env };
  process.env.HARDER_CACHE = cache;
  process.env.HARDER_CRICTL_RELEASE_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cri`;
  try {
    const result = await build(binariesTargets(configWith('release')).crictl);
    assert.is(result.source, 'release');
    assert.is(result.path, join(cache, 'bin', 'v1.34.0', 'release', 'crictl'));
    assert.is(result.sha256, crictl.sha256);
  } finally {
    process.env = saved;
    server.close();
    await rm(cache, { recursive: true, force: true });
  }
});

test('dir source: verifies against a checksum file beside the binary, and rejects a mismatch', async () => {
  const cache = await mkdtemp(join(tmpdir(), 'harder-cache-'));
  const dir = await mkdtemp(join(tmpdir(), 'harder-bins-'));
  const saved = { ...process.env };
  process.env.HARDER_CACHE = cache;
  process.env.HARDER_BINARIES_DIR = dir;
  process.env.HARDER_K8S_RELEASE_URL = 'http://127.0.0.1:9'; // nothing listens: no release checksum
  try {
    for (const name of KUBERNETES_BINARIES) {
      await copyFile(goAll[name].path, join(dir, name));
      await writeFile(join(dir, `${name}.sha256`), `${goAll[name].sha256}  ${name}\n`);
    }
    const dirBuild = () => build<KubernetesBinariesResult>(binariesTargets(configWith('dir')).kubernetes).then((all) => all['kube-scheduler']);
    const result = await dirBuild();
    assert.is(result.source, 'dir');
    assert.is(result.sha256, goScheduler.sha256);
    assert.ok(lines.some((l) => l.includes('sha256 verified')));

    await writeFile(join(dir, 'kube-scheduler.sha256'), `${'0'.repeat(64)}\n`);
    try {
      await dirBuild();
      assert.unreachable('a mismatching binary must be rejected');
    } catch (error) {
      assert.match((error as Error).message, 'checksum mismatch');
    }

    // No checksum anywhere (none beside it, release host down): accepted, with a warning.
    await rm(join(dir, 'kube-scheduler.sha256'));
    lines.length = 0;
    const unverified = await dirBuild();
    assert.is(unverified.sha256, goScheduler.sha256);
    assert.ok(lines.some((l) => l.startsWith('warning: no checksum known')), lines.join('\n'));
  } finally {
    process.env = saved;
    await rm(cache, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
});

test('auto: an unreachable release host falls back to the go source and says so', async () => {
  const saved = { ...process.env };
  process.env.HARDER_K8S_RELEASE_URL = 'http://127.0.0.1:9'; // nothing listens on the discard port
  lines.length = 0;
  try {
    const result = (await build<KubernetesBinariesResult>(binariesTargets(configWith('auto')).kubernetes))['kube-scheduler'];
    assert.is(result.source, 'go');
    assert.is(result.sha256, goScheduler.sha256, 'the go build from the cache');
    assert.ok(lines.some((l) => l.includes('unreachable') && l.includes('Go module')), lines.join('\n'));
  } finally {
    process.env = saved;
  }
});

test('go source without a Go toolchain: a clear error naming the other sources', async () => {
  const cache = await mkdtemp(join(tmpdir(), 'harder-cache-'));
  const saved = { ...process.env };
  process.env.GO = '/nonexistent/go';
  process.env.HARDER_CACHE = cache;
  try {
    await build(binariesTargets(configWith('go')).kubernetes);
    assert.unreachable('there is no go to run');
  } catch (error) {
    assert.match((error as Error).message, 'Go toolchain is not installed');
    const hint = (error as { hint?: string }).hint ?? '';
    assert.match(hint, '--binaries release');
    assert.match(hint, '--binaries dir');
  } finally {
    process.env = saved;
    await rm(cache, { recursive: true, force: true });
  }
});

test('probe: a changed or removed cached file is reported', async () => {
  assert.match((await probeBinary({ ...goScheduler, sha256: '0'.repeat(64) })) ?? '', 'changed');
  assert.match((await probeBinary({ ...goScheduler, path: '/nonexistent/kube-scheduler' })) ?? '', 'gone');
});

test.run();
