// A cluster whose control plane is an arm64 machine, built on this amd64 host: the machine is an
// emulated arm64 Debian 12 (test/lib/ssh-machines.ts: debootstrap --arch=arm64, the node image and sshd,
// every program under qemu-user), the two workers amd64 machines, all reached over SSH only and with no
// Docker socket for the build. Its etcd and control plane are the cross-built binaries (bin:etcd@arm64,
// bin:kubernetes@arm64), the API reports linux/arm64, cluster:smoke passes, and a rerun builds nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { KnownHosts } from '../../lib/node/known-hosts.ts';
import { SshNodeHandle } from '../../lib/node/ssh.ts';
import { defaultConfig, defaultNodes } from '../../tasks/config/config.ts';
import { cachedBinaryPath } from '../../tasks/binaries/index.ts';
import { noAddons } from '../../tasks/addons/spec.ts';
import { scratchProjectRoot } from '../lib/scratch-root.ts';
import { arm64SshMachineImage, removeMachines, runCli, sshMachineImage, startMachines, testKeys, type TestMachine } from '../lib/ssh-machines.ts';

const keys = testKeys();
const root = scratchProjectRoot('harder-t-ssh-arm64-');
const NO_DOCKER = { DOCKER_HOST: 'unix:///nonexistent/harder-t-ssh-arm64/docker.sock', HARDER_SSH_STATS: '1' };
let machines: TestMachine[] = [];
const handles: SshNodeHandle[] = [];
const specFile = join(root, 'machines.json');

process.on('exit', removeMachines);

test.before(async () => {
  removeMachines();
  const started = performance.now();
  const [amd64, arm64] = [await sshMachineImage(), await arm64SshMachineImage()];
  process.stdout.write(`  machine images ready in ${Math.round((performance.now() - started) / 1000)} s\n`);
  machines = await startMachines((node) => (node.role === 'control-plane' ? arm64 : amd64), defaultNodes({ controlPlanes: 1, workers: 2 }), keys.goodPub);
  writeFileSync(
    specFile,
    JSON.stringify({
      clusterName: 'harder-t-ssh',
      nodeSubnet: '10.250.0.0/24',
      binarySource: 'go',
      mergeKubeconfig: false,
      addons: noAddons(),
      machines: [
        { name: 'controller-1', role: 'control-plane', address: machines[0]!.ip, user: 'root', key: keys.good, arch: 'arm64' },
        { name: 'worker-1', role: 'worker', address: machines[1]!.ip, user: 'root', key: keys.good },
        { name: 'worker-2', role: 'worker', address: machines[2]!.ip, user: 'root', key: keys.good },
      ],
    }),
  );
});

test.after(async () => {
  await Promise.all(handles.map((h) => h.close()));
  removeMachines();
  for (const dir of [root, keys.dir]) rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runCli(root, NO_DOCKER, specFile, ...args);

test('the control-plane machine is arm64, and a spec entry without arch is refused by name before anything changes', async () => {
  const controller = new SshNodeHandle({ name: 'controller-1', host: machines[0]!.ip, user: 'root', key: keys.good }, { knownHosts: new KnownHosts(join(root, 'known_hosts'), true) });
  handles.push(controller);
  assert.is((await controller.exec(['dpkg', '--print-architecture'])).stdout.toString().trim(), 'arm64');
  assert.is((await controller.exec(['uname', '-m'])).stdout.toString().trim(), 'aarch64');
  const without = join(root, 'no-arch.json');
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as { machines: { arch?: string }[] };
  delete spec.machines[0]!.arch;
  writeFileSync(without, JSON.stringify(spec));
  const refused = await runCli(root, NO_DOCKER, without, 'node:controller-1', '--trust-new-hosts');
  assert.is.not(refused.code, 0);
  assert.match(refused.output, "controller-1 (10.250.0.10:22): it is arm64, and its spec entry gives no arch, which means the build host's (amd64)");
  assert.match(refused.output, 'add "arch": "arm64" to its entry in machines');
  assert.not.ok(refused.built.includes('node:controller-1'));
});

test('cluster: etcd and the control plane run the arm64 binaries, the API says linux/arm64, the amd64 workers join, cluster:smoke passes', async () => {
  const built = await cli('cluster', '--trust-new-hosts');
  assert.is(built.code, 0, built.output.slice(-4000));
  for (const name of ['bin:kubernetes@arm64', 'bin:etcd@arm64', 'install:controller-1:kube-apiserver', 'unit:controller-1:kube-apiserver', 'unit:controller-1:etcd']) {
    assert.ok(built.built.includes(name) || built.output.includes(`${name} `), `${name} in the run`);
  }
  const controller = new SshNodeHandle({ name: 'controller-1', host: machines[0]!.ip, user: 'root', key: keys.good }, { knownHosts: new KnownHosts(join(root, 'output/ssh/known_hosts')) });
  handles.push(controller);
  // e_machine of each installed binary: 0xb7 is EM_AARCH64.
  const machineBytes = (await controller.exec(['sh', '-c', 'for b in /usr/local/bin/etcd /usr/local/bin/kube-apiserver /usr/local/bin/kube-controller-manager /usr/local/bin/kube-scheduler; do od -An -tx1 -j18 -N2 "$b"; done'])).stdout.toString().trim().split('\n').map((l) => l.trim());
  assert.equal(machineBytes, ['b7 00', 'b7 00', 'b7 00', 'b7 00']);
  // The host's kubectl and the admin kubeconfig, as a user runs them: the server is the arm64 build.
  const kubectl = cachedBinaryPath('kubectl', defaultConfig.kubernetesVersion, 'go');
  const version = await execa(kubectl, ['--kubeconfig', join(root, 'output/kubeconfig/admin.kubeconfig'), 'version', '-o', 'json'], { reject: false, all: true });
  const server = (JSON.parse(version.stdout) as { serverVersion?: { platform?: string; gitVersion?: string } }).serverVersion;
  assert.equal({ platform: server?.platform, gitVersion: server?.gitVersion }, { platform: 'linux/arm64', gitVersion: defaultConfig.kubernetesVersion }, String(version.all).slice(-1500));
  const smoke = await cli('cluster:smoke');
  assert.is(smoke.code, 0, smoke.output.slice(-4000));
  assert.match(smoke.output, 'PASS pod to pod across workers');
  assert.not.match(smoke.output, 'FAIL');
});

test('a rerun builds nothing: one batched read per machine, the arm64 one too', async () => {
  const noop = await cli('cluster');
  assert.is(noop.code, 0, noop.output);
  assert.equal(noop.built, []);
  for (const m of ['controller-1', 'worker-1', 'worker-2']) assert.is(noop.stats.get(m), '1 connection(s), 1 exec(s), 0 SFTP request(s)', `${m}: ${noop.stats.get(m)}`);
  process.stdout.write(`cluster no-op wall time with an arm64 control plane: ${Math.round(noop.wallMs)} ms\n`);
});

test.run();
