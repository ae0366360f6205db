// Pure parts of the binaries and images steps: version ldflags, the wrapper go.mod, crictl/pause/CoreDNS
// versions per Kubernetes minor, containerd's names for Docker image references, ELF-free helpers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkToolchain, crictlVersionFor, kubernetesLdflags, parseVersion, cachedBinaryPath } from '../../tasks/binaries/index.ts';
import { COREDNS_IMAGE, corednsImageFor, PAUSE_IMAGE, pauseImageFor } from '../../tasks/images/cluster-images.ts';
import { defaultConfig } from '../../tasks/config/config.ts';
import { normalizeImageRef } from '../../lib/docker/load-image.ts';
import { goCommand, readGoMod, renderWrapperGoMod, upstreamPins } from '../../lib/go-build.ts';
import { cacheRoot } from '../../lib/cache-root.ts';

const run = promisify(execFile);

test('versions: parse, crictl per minor, pause and CoreDNS per minor', () => {
  assert.equal(parseVersion('v1.34.4'), { major: 1, minor: 34, patch: 4 });
  assert.throws(() => parseVersion('1.34'), /not a release version/);
  assert.is(crictlVersionFor('v1.34.4'), 'v1.34.0');
  // cri-tools v1.33.0 is not served by the module proxy here (v1.34.0 and v1.37.0 are): 1.33 gets the v1.34 CRI client.
  assert.is(crictlVersionFor('v1.33.13'), 'v1.34.0');
  assert.is(pauseImageFor('v1.34.4'), 'registry.k8s.io/pause:3.10.1');
  assert.is(corednsImageFor('v1.34.4'), 'registry.k8s.io/coredns/coredns:v1.12.1');
  assert.is(pauseImageFor(defaultConfig.kubernetesVersion), PAUSE_IMAGE, 'the exported constant matches the pinned version');
  assert.is(corednsImageFor(defaultConfig.kubernetesVersion), COREDNS_IMAGE);
  assert.throws(() => pauseImageFor('v1.20.0'), /no pause\/CoreDNS versions recorded/);
});

test('ldflags set version, major, minor and tree state in component-base and client-go', () => {
  const flags = kubernetesLdflags('v1.34.4', '2026-02-10T12:53:36Z');
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    assert.ok(flags.includes(`-X ${pkg}.gitVersion=v1.34.4`));
    assert.ok(flags.includes(`-X ${pkg}.gitMajor=1`));
    assert.ok(flags.includes(`-X ${pkg}.gitMinor=34`));
    assert.ok(flags.includes(`-X ${pkg}.gitTreeState=clean`));
    assert.ok(flags.includes(`-X ${pkg}.buildDate=2026-02-10T12:53:36Z`));
  }
  assert.ok(flags.includes('-s') && flags.includes('-w'));
});

test('the wrapper go.mod is valid Go module syntax with godebug, require and replace', async () => {
  const text = renderWrapperGoMod({
    module: 'harder.local/x',
    goDirective: '1.24.0',
    godebug: ['default=go1.24'],
    require: { 'k8s.io/kubernetes': 'v1.34.4' },
    replace: { 'k8s.io/api': 'k8s.io/api v0.34.4' },
    packages: ['k8s.io/kubernetes/cmd/kubelet'],
  });
  const dir = await mkdtemp(join(tmpdir(), 'harder-gomod-'));
  try {
    await writeFile(join(dir, 'go.mod'), text);
    // The Go toolchain parses it (offline: go mod edit reads only the file).
    const { stdout } = await run(goCommand(), ['mod', 'edit', '-json', join(dir, 'go.mod')]);
    const mod = JSON.parse(stdout);
    assert.is(mod.Module.Path, 'harder.local/x');
    assert.is(mod.Go, '1.24.0');
    assert.equal(mod.GoDebug, [{ Key: 'default', Value: 'go1.24' }]);
    assert.equal(mod.Require, [{ Path: 'k8s.io/kubernetes', Version: 'v1.34.4' }]);
    assert.equal(mod.Replace, [{ Old: { Path: 'k8s.io/api' }, New: { Path: 'k8s.io/api', Version: 'v0.34.4' } }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a wrapper keeps upstream's fork replaces and excludes (Traefik's go.mod has both); a directory replace is refused", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'harder-gomod-pins-'));
  try {
    // The shape of Traefik v3.6's go.mod: two forks and one excluded version.
    const upstream = join(dir, 'upstream.mod');
    await writeFile(
      upstream,
      [
        'module example.com/proxy/v3',
        'go 1.25.0',
        'require github.com/gorilla/mux v1.8.1',
        'replace github.com/gorilla/mux => github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59',
        'replace github.com/abbot/go-http-auth v0.4.0 => github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e',
        'exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible',
        '',
      ].join('\n'),
    );
    const pins = upstreamPins('example.com/proxy/v3', 'v3.6.12', await readGoMod(upstream));
    const text = renderWrapperGoMod({ module: 'harder.local/proxy-build', goDirective: '1.25.0', godebug: [], require: { 'example.com/proxy/v3': 'v3.6.12' }, packages: [], ...pins });
    await writeFile(join(dir, 'go.mod'), text);
    // The toolchain reads the wrapper back with the same replaces and exclude.
    const mod = JSON.parse((await run(goCommand(), ['mod', 'edit', '-json', join(dir, 'go.mod')])).stdout);
    assert.equal(mod.Replace, [
      { Old: { Path: 'github.com/abbot/go-http-auth', Version: 'v0.4.0' }, New: { Path: 'github.com/containous/go-http-auth', Version: 'v0.4.1-0.20200324110947-a37a7636d23e' } },
      { Old: { Path: 'github.com/gorilla/mux' }, New: { Path: 'github.com/containous/mux', Version: 'v0.0.0-20250523120546-41b6ec3aed59' } },
    ]);
    assert.equal(mod.Exclude, [{ Path: 'github.com/tencentcloud/tencentcloud-sdk-go', Version: 'v3.0.83+incompatible' }]);

    // Traefik v3.7's go.mod replaces a nested module by its own directory, which no module zip carries.
    const local = join(dir, 'local.mod');
    await writeFile(local, 'module example.com/proxy/v3\ngo 1.26.0\nreplace example.com/proxy/dynamic/ext => ./pkg/config/dynamic/ext\n');
    const parsed = await readGoMod(local);
    assert.throws(() => upstreamPins('example.com/proxy/v3', 'v3.7.13', parsed), (e: Error) => /replaces example\.com\/proxy\/dynamic\/ext with its own directory \.\/pkg\/config\/dynamic\/ext/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a Go older than 1.21 (which cannot fetch the needed toolchain) is a clear error', () => {
  checkToolchain('go1.26.8', '1.24.0');
  checkToolchain('go1.21.0', '1.24.0');
  checkToolchain('devel go1.27-abc', '1.24.0');
  try {
    checkToolchain('go1.19.8', '1.24.0');
    assert.unreachable('Go 1.19 cannot build these modules');
  } catch (error) {
    assert.match((error as Error).message, 'go1.19.8 is too old');
    assert.match((error as { hint?: string }).hint ?? '', '--binaries release');
  }
});

test('containerd names for Docker references', () => {
  assert.is(normalizeImageRef('busybox'), 'docker.io/library/busybox:latest');
  assert.is(normalizeImageRef('nginx:1.27'), 'docker.io/library/nginx:1.27');
  assert.is(normalizeImageRef('someone/app:2'), 'docker.io/someone/app:2');
  assert.is(normalizeImageRef('registry.k8s.io/pause:3.10.1'), 'registry.k8s.io/pause:3.10.1');
  assert.is(normalizeImageRef('harder.local/echo:1'), 'harder.local/echo:1');
  assert.is(normalizeImageRef('localhost/app'), 'localhost/app:latest');
  assert.is(normalizeImageRef('myhost:5000/app'), 'myhost:5000/app:latest');
});

test('cache root: HARDER_CACHE overrides, binaries keyed by version and source', () => {
  assert.is(cacheRoot({ HARDER_CACHE: '/tmp/c' }), '/tmp/c');
  assert.match(cacheRoot({}), /\.cache\/harder$/);
  const saved = process.env.HARDER_CACHE;
  process.env.HARDER_CACHE = '/tmp/c';
  try {
    assert.is(cachedBinaryPath('kubelet', 'v1.34.4', 'go'), '/tmp/c/bin/v1.34.4/go/kubelet');
    assert.is.not(cachedBinaryPath('kubelet', 'v1.34.4', 'release'), cachedBinaryPath('kubelet', 'v1.34.4', 'go'));
  } finally {
    if (saved === undefined) delete process.env.HARDER_CACHE;
    else process.env.HARDER_CACHE = saved;
  }
});

test.run();
