// Machines of another architecture than the build host's, through the real CLI with no Docker at all: a
// spec with an arm64 control plane and an arm64 worker (never contacted here) gets its binaries and
// images cross-built; each one is an aarch64 executable that, run under qemu-user, reports the pinned
// version; the image archives say arm64; a rerun builds nothing; a dry run writes nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchProjectRoot } from '../lib/scratch-root.ts';
import { elfFacts } from '../../lib/elf.ts';
import { readStoredResult } from '../../lib/engine/state.ts';
import { noAddons } from '../../tasks/addons/spec.ts';
import { defaultConfig, etcdVersionOf } from '../../tasks/config/config.ts';
import type { BinaryResult } from '../../tasks/binaries/index.ts';

const root = scratchProjectRoot('harder-t-cross-');
const NO_DOCKER = { DOCKER_HOST: 'unix:///nonexistent/harder-t-cross/docker.sock' };
const QEMU = '/usr/bin/qemu-aarch64-static';
const version = defaultConfig.kubernetesVersion;
const specFile = join(root, 'spec.json');
writeFileSync(
  specFile,
  JSON.stringify({
    clusterName: 'harder-t-cross',
    nodeSubnet: '192.168.64.0/24',
    binarySource: 'go',
    mergeKubeconfig: false,
    addons: noAddons(),
    machines: [
      { name: 'server', role: 'control-plane', address: '192.168.64.10', user: 'root', arch: 'arm64' },
      { name: 'node-0', role: 'worker', address: '192.168.64.20', user: 'root', arch: 'arm64' },
      { name: 'node-1', role: 'worker', address: '192.168.64.21', user: 'root' },
    ],
  }),
);
const WANTED = ['bin:kubernetes@arm64', 'bin:etcd@arm64', 'image:pause@arm64', 'image:echo@arm64', 'image:coredns@arm64'];

async function cli(...args: string[]): Promise<{ code: number; output: string; built: string[] }> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--config', specFile, '--plain'], { cwd: root, reject: false, all: true, env: NO_DOCKER, timeout: 40 * 60_000 });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode}, ${Math.round((performance.now() - started) / 1000)} s, built: ${built.join(' ')}\n${output.split('\n').filter((l) => /✗|hint|built, |go build .*done/.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built };
}

/** What the engine recorded for a target (its result), from the run state under output/. */
function recorded<R>(name: string): R {
  const result = readStoredResult(join(root, 'output'), name);
  if (result === undefined) throw new Error(`no recorded result of ${name} under ${root}/output`);
  return result as R;
}

/** `binary args…` under qemu-user: what an arm64 machine would print. */
async function underQemu(binary: string, ...args: string[]): Promise<string> {
  assert.ok(existsSync(QEMU), `${QEMU} is missing: apt-get install qemu-user-static (.ci/run installs it)`);
  const res = await execa(QEMU, [binary, ...args], { all: true, reject: false });
  return String(res.all ?? '');
}

/** An image archive's config and its one layer unpacked into `dir`. */
async function unpackImage(archive: string, dir: string): Promise<{ architecture: string; rootfs: string }> {
  mkdirSync(dir, { recursive: true });
  await execa('tar', ['-xf', archive, '-C', dir]);
  const [manifest] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[];
  const config = JSON.parse(readFileSync(join(dir, manifest!.Config), 'utf8')) as { architecture: string };
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  await execa('tar', ['-xf', join(dir, manifest!.Layers[0]!), '-C', rootfs]);
  return { architecture: config.architecture, rootfs };
}

test('a dry run names the cross-built targets and writes nothing', async () => {
  const dry = await cli(...WANTED, '--dry-run');
  assert.is(dry.code, 0, dry.output);
  for (const name of WANTED) assert.ok(dry.output.includes(name), `${name} in the dry run:\n${dry.output}`);
  assert.not.ok(existsSync(join(root, 'output', 'images')), 'a dry run wrote no image');
});

test('the arm64 nodes\' binaries: cross-built, aarch64, static, and each reports the pinned version under qemu-user', async () => {
  const first = await cli(...WANTED);
  assert.is(first.code, 0, first.output);
  for (const name of WANTED) assert.ok(first.built.includes(name), `${name} built: ${first.built.join(' ')}`);
  assert.not.ok(first.built.includes('bin:kubernetes'), 'the build host\'s binaries were not asked for and not built');
  const k8s = recorded<Record<string, BinaryResult>>('bin:kubernetes@arm64');
  assert.equal(Object.keys(k8s).sort(), ['kube-apiserver', 'kube-controller-manager', 'kube-proxy', 'kube-scheduler', 'kubelet']);
  for (const [name, binary] of Object.entries(k8s)) {
    assert.ok(binary.path.includes('/linux-arm64/'), binary.path);
    assert.equal(await elfFacts(binary.path), { arch: 'arm64', static: true }, name);
    assert.ok((await underQemu(binary.path, '--version')).includes(`Kubernetes ${version}`), name);
  }
  const etcd = recorded<Record<'etcd' | 'etcdctl', BinaryResult>>('bin:etcd@arm64');
  const bare = etcdVersionOf(defaultConfig).replace(/^v/, '');
  assert.equal(await elfFacts(etcd.etcd.path), { arch: 'arm64', static: true });
  assert.ok((await underQemu(etcd.etcd.path, '--version')).includes(`etcd Version: ${bare}`));
  assert.ok((await underQemu(etcd.etcdctl.path, 'version')).includes(`etcdctl version: ${bare}`));
});

test('the arm64 workers\' images: archives that say arm64, holding aarch64 programs that run', async () => {
  const images = join(root, 'output', 'images');
  assert.equal(readdirSync(images).sort(), ['coredns-arm64.tar', 'echo-arm64.tar', 'pause-arm64.tar']);
  const unpacked = join(root, 'unpacked');
  rmSync(unpacked, { recursive: true, force: true });
  const pause = await unpackImage(join(images, 'pause-arm64.tar'), join(unpacked, 'pause'));
  assert.is(pause.architecture, 'arm64');
  assert.equal(await elfFacts(join(pause.rootfs, 'pause')), { arch: 'arm64', static: true });
  assert.match(await underQemu(join(pause.rootfs, 'pause'), '-v'), /pause\.c v3\.\d+(\.\d+)?-harder/);
  const echo = await unpackImage(join(images, 'echo-arm64.tar'), join(unpacked, 'echo'));
  assert.is(echo.architecture, 'arm64');
  assert.equal(await elfFacts(join(echo.rootfs, 'bin/busybox')), { arch: 'arm64', static: true });
  assert.is((await underQemu(join(echo.rootfs, 'bin/busybox'), 'echo', 'hello from arm64')).trim(), 'hello from arm64');
  assert.ok(existsSync(join(echo.rootfs, 'bin/httpd')) || readdirSync(join(echo.rootfs, 'bin')).includes('httpd'), 'the httpd applet link the smoke test runs');
  const coredns = await unpackImage(join(images, 'coredns-arm64.tar'), join(unpacked, 'coredns'));
  assert.is(coredns.architecture, 'arm64');
  assert.equal(await elfFacts(join(coredns.rootfs, 'coredns')), { arch: 'arm64', static: true });
  assert.ok((await underQemu(join(coredns.rootfs, 'coredns'), '-version')).includes('CoreDNS-1.'));
});

test('a rerun builds nothing', async () => {
  const again = await cli(...WANTED);
  assert.is(again.code, 0, again.output);
  assert.equal(again.built, []);
  assert.match(again.output, /0 built, \d+ up to date, 0 failed/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();
