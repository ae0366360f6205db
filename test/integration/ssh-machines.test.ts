// Machines over SSH, for real: containers from the node image plus sshd (test/lib/ssh-machines.ts), on
// their own network (harder-t-ssh-net, 10.250.0.0/24), reached by the SSH transport only. The handle:
// exec with and without stdin, files put with their mode by temp+rename, the batched read in one exec,
// a sudo login; the trust model (unknown key refused, recorded only with trust-new, a changed key always
// refused); the clear errors (unreachable, wrong key, no sudo); the machine target's preflight and
// package probe; the real CLI with DOCKER_HOST on a dead socket (nodes, etcd, no-op, repairs, clean); and
// the whole cluster with cluster:smoke, also with no Docker socket. ~2.5 min.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { NodeCommandError } from '../../lib/errors.ts';
import { NodeFileMissingError } from '../../lib/docker/errors.ts';
import { KnownHosts } from '../../lib/node/known-hosts.ts';
import { MachineError } from '../../lib/node/machine-error.ts';
import { SshNodeHandle, type SshMachine } from '../../lib/node/ssh.ts';
import { defaultNodes } from '../../tasks/config/config.ts';
import { machinePreflight } from '../../tasks/nodes/machine-preflight.ts';
import { scratchProjectRoot } from '../lib/scratch-root.ts';
import { rekeyHost, removeMachines, runCli, sshMachineImage, startMachines, testKeys, type TestMachine } from '../lib/ssh-machines.ts';
import { noAddons } from '../../tasks/addons/spec.ts';

const keys = testKeys();
const work = mkdtempSync(join(tmpdir(), 'harder-t-ssh-'));
let machines: TestMachine[] = [];
const handles: SshNodeHandle[] = [];

process.on('exit', removeMachines);

function handle(machine: Partial<SshMachine> & { host: string }, knownHosts: KnownHosts): SshNodeHandle {
  const h = new SshNodeHandle({ name: 'controller-1', user: 'root', key: keys.good, ...machine }, { knownHosts, readyTimeoutMs: 8000 });
  handles.push(h);
  return h;
}

async function refusal(run: () => Promise<unknown>): Promise<MachineError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof MachineError) return error;
    throw error;
  }
  throw new Error('expected a MachineError, the call succeeded');
}

const trusted = new KnownHosts(join(work, 'known_hosts'));

test.before(async () => {
  removeMachines();
  const image = await sshMachineImage();
  machines = await startMachines(image, defaultNodes({ controlPlanes: 1, workers: 2 }), keys.goodPub);
});

test.after(async () => {
  await Promise.all(handles.map((h) => h.close()));
  removeMachines();
  for (const dir of [root, keys.dir, work]) rmSync(dir, { recursive: true, force: true });
});

test('an unknown host key is refused, naming the machine and its fingerprint; trust-new records it, and then it is known', async () => {
  const ip = machines[0]!.ip;
  const error = await refusal(() => handle({ host: ip }, trusted).exec(['true']));
  assert.match(error.message, `controller-1 (${ip}:22): host key unknown`);
  assert.match(error.message, /SHA256:[A-Za-z0-9+/]{43}/);
  assert.match(error.hint ?? '', '--trust-new-hosts');
  assert.not.ok(existsSync(trusted.file), 'a refused key is not recorded');

  const recorded: string[] = [];
  const tofu = new SshNodeHandle({ name: 'controller-1', host: ip, user: 'root', key: keys.good }, { knownHosts: new KnownHosts(trusted.file, true), onRecorded: (m) => recorded.push(m) });
  handles.push(tofu);
  assert.is((await tofu.exec(['hostname'])).stdout.toString().trim(), 'controller-1');
  assert.equal(recorded, ['controller-1']);
  const lines = readFileSync(trusted.file, 'utf8').trim().split('\n');
  assert.is(lines.length, 1);
  assert.match(lines[0]!, new RegExp(`^${ip.replace(/\./g, '\\.')} ssh-ed25519 AAAA`));
  // The machine's own fingerprint, computed by ssh-keygen on it, is the one recorded.
  const onMachine = (await tofu.exec(['ssh-keygen', '-lf', '/etc/ssh/ssh_host_ed25519_key.pub'])).stdout.toString();
  const blob = Buffer.from(lines[0]!.split(' ')[2]!, 'base64');
  assert.match(onMachine, `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`);

  // A handle that may not trust new keys now connects: the key is known.
  assert.is((await handle({ host: ip }, trusted).exec(['id', '-u'])).stdout.toString().trim(), '0');
  // Trust the other machines too, for the tests below.
  for (const m of machines.slice(1)) await handle({ name: m.name, host: m.ip }, new KnownHosts(trusted.file, true)).exec(['true']);
  assert.is(readFileSync(trusted.file, 'utf8').trim().split('\n').length, 3);
});

test('exec: argv quoted exactly, stdin as bytes and as a stream, env, working directory, exit codes', async () => {
  const node = handle({ host: machines[0]!.ip }, trusted);
  const odd = ["it's", 'a "b"', '$HOME', '*', 'two  spaces', ''];
  const echoed = await node.exec(['printf', '%s\\n', ...odd]);
  assert.equal(echoed.stdout.toString().split('\n').slice(0, -1), odd);
  assert.is((await node.exec(['sha256sum'], { stdin: 'hello\n' })).stdout.toString().split(' ')[0], createHash('sha256').update('hello\n').digest('hex'));
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  const streamed = await node.exec(['wc', '-c'], { stdin: Readable.from([big.subarray(0, 1 << 20), big.subarray(1 << 20)]) });
  assert.is(streamed.stdout.toString().trim(), String(big.length));
  assert.is((await node.exec(['bash', '-c', 'echo "$FOO:$PWD"'], { env: { FOO: 'x y' }, workingDir: '/etc' })).stdout.toString().trim(), 'x y:/etc');
  const failed = await node.exec(['bash', '-c', 'echo out; echo err >&2; exit 3'], { allowFailure: true });
  assert.equal([failed.exitCode, failed.stdout.toString(), failed.stderr.toString()], [3, 'out\n', 'err\n']);
  try {
    await node.exec(['false']);
    assert.unreachable('false exited 0');
  } catch (error) {
    assert.instance(error, NodeCommandError);
    assert.match((error as Error).message, 'controller-1');
  }
  // Many commands at once on one connection: more than sshd's 10 sessions per connection.
  const many = await Promise.all(Array.from({ length: 30 }, (_, i) => node.exec(['echo', String(i)])));
  assert.equal(many.map((r) => r.stdout.toString().trim()), Array.from({ length: 30 }, (_, i) => String(i)));
  assert.is(node.stats.connects, 1);
});

test('putFile over SFTP: mode exact, parents made, owner root, atomic replace leaves no temporary file; getFile and a missing file', async () => {
  const node = handle({ host: machines[0]!.ip }, trusted);
  await node.putFile('/etc/harder-t/new/dir/secret.key', 'k1', 0o600);
  await node.putFile('/etc/harder-t/new/dir/tool', '#!/bin/sh\necho tool\n', 0o755);
  await node.putFile('/etc/harder-t/new/dir/group-writable', 'g', 0o664);
  const stat = (await node.exec(['stat', '-c', '%a %U %G %n', '/etc/harder-t/new/dir/secret.key', '/etc/harder-t/new/dir/tool', '/etc/harder-t/new/dir/group-writable'])).stdout.toString().trim().split('\n');
  assert.equal(stat, ['600 root root /etc/harder-t/new/dir/secret.key', '755 root root /etc/harder-t/new/dir/tool', '664 root root /etc/harder-t/new/dir/group-writable']);
  assert.is((await node.exec(['/etc/harder-t/new/dir/tool'])).stdout.toString(), 'tool\n');
  await node.putFile('/etc/harder-t/new/dir/secret.key', 'k2', 0o600);
  assert.is((await node.getFile('/etc/harder-t/new/dir/secret.key')).toString(), 'k2');
  assert.is((await node.exec(['ls', '-A', '/etc/harder-t/new/dir'])).stdout.toString().trim().split('\n').join(' '), 'group-writable secret.key tool');
  await node.exec(['ln', '-sf', 'tool', '/etc/harder-t/new/dir/link']);
  assert.is((await node.getFile('/etc/harder-t/new/dir/link')).toString(), '#!/bin/sh\necho tool\n');
  try {
    await node.getFile('/etc/harder-t/absent');
    assert.unreachable('a missing file was read');
  } catch (error) {
    assert.instance(error, NodeFileMissingError);
  }
});

test('readState: hashes, binary stamps and unit states in one exec', async () => {
  const node = handle({ host: machines[0]!.ip }, trusted);
  await node.putFile('/etc/harder-t/state-a', 'a\n');
  const before = node.stats.execs;
  const state = await node.readState({ files: ['/etc/harder-t/state-a', '/etc/harder-t/none'], binaries: ['/usr/bin/containerd'], units: ['ssh', 'containerd', 'no-such'] });
  assert.is(node.stats.execs - before, 1);
  assert.is(state.hashes.get('/etc/harder-t/state-a'), createHash('sha256').update('a\n').digest('hex'));
  assert.not.ok(state.hashes.has('/etc/harder-t/none'));
  const size = (await node.exec(['stat', '-c', '%s %Y', '/usr/bin/containerd'])).stdout.toString().trim();
  assert.is(state.stamps.get('/usr/bin/containerd'), size);
  const { since, ...ssh } = state.units.get('ssh') ?? { since: undefined };
  assert.equal(ssh, { active: 'active', sub: 'running', enabled: 'enabled', job: false });
  // When sshd became active: systemd's default, human-readable timestamp, turned into seconds by date(1).
  const shown = (await node.exec(['sh', '-c', 'date -d "$(systemctl show --property=ActiveEnterTimestamp --value ssh.service)" +%s'])).stdout.toString().trim();
  assert.is(since, Number(shown), `ActiveEnterTimestamp in seconds: ${shown}`);
  assert.is(state.units.get('no-such')?.active, 'inactive');
  assert.is(state.units.get('no-such')?.since, undefined, 'a unit never active has no start time');
});

test('a sudo login runs every command as root; files it puts are root-owned with their mode', async () => {
  const node = handle({ host: machines[1]!.ip, name: 'worker-1', user: 'admin' }, trusted);
  assert.is((await node.exec(['id', '-u'])).stdout.toString().trim(), '0');
  await node.putFile('/etc/harder-t/sudo/put', 'via sudo', 0o640);
  assert.is((await node.exec(['stat', '-c', '%a %U', '/etc/harder-t/sudo/put'])).stdout.toString().trim(), '640 root');
  assert.is((await node.getFile('/etc/harder-t/sudo/put')).toString(), 'via sudo');
  assert.is((await node.exec(['ls', '-A', '/etc/harder-t/sudo'])).stdout.toString().trim(), 'put');
  assert.is((await node.exec(['id', '-un'], { user: 'plain' })).stdout.toString().trim(), 'plain');
});

test('bad input: unreachable, wrong key, unreadable key: each a MachineError naming the machine', async () => {
  const unreachable = await refusal(() => handle({ name: 'worker-9', host: '10.250.0.99' }, trusted).exec(['true']));
  assert.match(unreachable.message, /^worker-9 \(10\.250\.0\.99:22\): unreachable/);
  const closed = await refusal(() => handle({ name: 'worker-8', host: machines[0]!.ip, port: 2222 }, trusted).exec(['true']));
  assert.match(closed.message, /^worker-8 \(10\.250\.0\.10:2222\): unreachable: ECONNREFUSED/);
  const wrong = await refusal(() => handle({ host: machines[0]!.ip, key: keys.wrong }, trusted).exec(['true']));
  assert.match(wrong.message, 'controller-1 (10.250.0.10:22): user root was refused');
  assert.match(wrong.hint ?? '', 'authorized_keys');
  const noFile = await refusal(() => handle({ host: machines[0]!.ip, key: join(keys.dir, 'absent') }, trusted).exec(['true']));
  assert.match(noFile.message, 'cannot read the SSH key');
});

test('preflight: a machine that fits passes with its facts; a login without passwordless sudo is refused by name', async () => {
  const ok = await machinePreflight(handle({ host: machines[0]!.ip }, trusted));
  assert.equal({ os: ok.os, arch: ok.arch }, { os: 'debian 12', arch: 'amd64' });
  assert.ok(['v1', 'v2', 'hybrid'].includes(ok.cgroup), ok.cgroup);
  const sudoer = await machinePreflight(handle({ host: machines[1]!.ip, name: 'worker-1', user: 'admin' }, trusted));
  assert.is(sudoer.arch, 'amd64');
  const plain = await refusal(() => machinePreflight(handle({ host: machines[2]!.ip, name: 'worker-2', user: 'plain' }, trusted)));
  assert.match(plain.message, 'worker-2 (10.250.0.12:22): user plain is not root and cannot use sudo without a password');
});


// ── Through the real CLI, with no Docker at all: DOCKER_HOST is a socket that does not exist. ──

const root = scratchProjectRoot('harder-t-ssh-cli-');
const NO_DOCKER = { DOCKER_HOST: 'unix:///nonexistent/harder-t-ssh/docker.sock', HARDER_SSH_STATS: '1' };
function spec(file: string, machines: Record<string, unknown>[], extra: Record<string, unknown> = {}): string {
  const path = join(root, file);
  writeFileSync(path, JSON.stringify({ clusterName: 'harder-t-ssh', nodeSubnet: '10.250.0.0/24', binarySource: 'go', mergeKubeconfig: false, addons: noAddons(), ...extra, machines }, null, 2));
  return path;
}

const cli = (configFile: string, ...args: string[]) => runCli(root, NO_DOCKER, configFile, ...args);
const run = (env: Record<string, string>, configFile: string, ...args: string[]) => runCli(root, env, configFile, ...args);

const threeMachines = () => [
  { name: 'controller-1', role: 'control-plane', address: machines[0]!.ip, user: 'root', key: keys.good },
  { name: 'worker-1', role: 'worker', address: machines[1]!.ip, user: 'admin', key: keys.good },
  { name: 'worker-2', role: 'worker', address: machines[2]!.ip, user: 'root', key: keys.good },
];

test('cli, no Docker: unknown host keys stop the run before anything changes; --trust-new-hosts records them and builds every machine', async () => {
  const file = spec('machines.json', threeMachines());
  const refused = await cli(file, 'nodes', '--keep-going');
  assert.is.not(refused.code, 0);
  for (const m of machines) assert.match(refused.output, `${m.name} (${m.ip}:22): host key unknown`);
  assert.equal(refused.built, []);
  assert.not.ok(existsSync(join(root, 'output/ssh/known_hosts')));

  const first = await cli(file, 'nodes', '--trust-new-hosts');
  assert.is(first.code, 0, first.output);
  assert.equal(first.built.sort(), ['machine:controller-1', 'machine:worker-1', 'machine:worker-2', 'node:controller-1', 'node:worker-1', 'node:worker-2']);
  assert.is(readFileSync(join(root, 'output/ssh/known_hosts'), 'utf8').trim().split('\n').length, 3);
  for (const m of machines) assert.match(first.output, `ssh: trusted the host key of ${m.name}`);
  assert.match(first.output, 'debian 12 amd64');
});

test('cli, no Docker: etcd from the same targets (certificates, files, unit) over SSH; a no-op run is one exec per machine; a removed file is put back', async () => {
  const file = join(root, 'machines.json');
  const built = await cli(file, 'cluster:etcd-healthy');
  assert.is(built.code, 0, built.output);
  assert.ok(built.built.includes('unit:controller-1:etcd'), built.built.join(' '));
  assert.ok(built.built.some((t) => t.startsWith('install:controller-1:')), built.built.join(' '));

  const noop = await cli(file, 'cluster:etcd-healthy', 'nodes');
  assert.is(noop.code, 0, noop.output);
  assert.equal(noop.built, []);
  // One batched read per machine: its hashes, stamps and unit states in one exec, nothing else.
  for (const m of machines) assert.is(noop.stats.get(m.name), '1 connection(s), 1 exec(s), 0 SFTP request(s)', `${m.name}: ${noop.stats.get(m.name)}`);
  process.stdout.write(`no-op wall time: ${Math.round(noop.wallMs)} ms\n`);

  const controller = new SshNodeHandle({ name: 'controller-1', host: machines[0]!.ip, user: 'root', key: keys.good }, { knownHosts: new KnownHosts(join(root, 'output/ssh/known_hosts')) });
  handles.push(controller);
  await controller.exec(['rm', '-f', '/etc/etcd/etcd-server.pem']);
  const repaired = await cli(file, 'cluster:etcd-healthy');
  assert.is(repaired.code, 0, repaired.output);
  assert.ok(repaired.built.some((t) => t.startsWith('install:controller-1:etcd-server')), repaired.built.join(' '));
  assert.ok((await controller.getFile('/etc/etcd/etcd-server.pem')).toString().startsWith('-----BEGIN CERTIFICATE-----'));
});

test('cli, no Docker: a package removed from a machine is reported by the probe and installed again with apt', async () => {
  const file = join(root, 'machines.json');
  const worker = new SshNodeHandle({ name: 'worker-2', host: machines[2]!.ip, user: 'root', key: keys.good }, { knownHosts: new KnownHosts(join(root, 'output/ssh/known_hosts')) });
  handles.push(worker);
  await worker.exec(['dpkg', '-r', 'socat']);
  const run = await cli(file, 'nodes', '--explain');
  assert.is(run.code, 0, run.output);
  assert.equal(run.built, ['node:worker-2']);
  assert.match(run.output, 'socat not installed on worker-2');
  assert.is((await worker.exec(['dpkg-query', '-W', '-f=${db:Status-Status}', 'socat'])).stdout.toString(), 'installed');
});

test('cli, no Docker: clean:nodes asks for --yes, then stops and removes only what harder installed; the machine stays reachable', async () => {
  const file = join(root, 'machines.json');
  const controller = new SshNodeHandle({ name: 'controller-1', host: machines[0]!.ip, user: 'root', key: keys.good }, { knownHosts: new KnownHosts(join(root, 'output/ssh/known_hosts')) });
  handles.push(controller);
  await controller.putFile('/etc/harder-t/not-harders', 'keep me\n');
  const refused = await cli(file, 'clean:nodes');
  assert.is.not(refused.code, 0);
  assert.match(refused.output, 'precious');
  assert.match(refused.output, '--yes');
  assert.is((await controller.exec(['systemctl', 'is-active', 'etcd.service'], { allowFailure: true })).stdout.toString().trim(), 'active');

  const cleaned = await cli(file, 'clean:nodes', '--yes');
  assert.is(cleaned.code, 0, cleaned.output);
  const after = (await controller.exec(['bash', '-c', 'systemctl is-active etcd.service; ls /etc/etcd 2>&1 | head -1; test -e /var/lib/kubernetes && echo kube-dir || echo no-kube-dir; test -e /usr/local/bin/etcd && echo our-etcd || echo no-etcd; test -x /usr/bin/containerd && echo debian-containerd; cat /etc/harder-t/not-harders; systemctl is-active containerd.service ssh.service'], { allowFailure: true })).stdout.toString().trim().split('\n');
  // Our etcd (bin:etcd, in /usr/local/bin) goes with the rest of what the cluster put there; Debian's packages stay.
  assert.equal(after, ['inactive', 'ls: cannot access \'/etc/etcd\': No such file or directory', 'no-kube-dir', 'no-etcd', 'debian-containerd', 'keep me', 'active', 'active']);

  // Everything comes back from the same targets.
  const rebuilt = await cli(file, 'cluster:etcd-healthy');
  assert.is(rebuilt.code, 0, rebuilt.output);
  assert.ok(rebuilt.built.includes('unit:controller-1:etcd'), rebuilt.built.join(' '));
});

test('cli, no Docker: an unreachable machine and a login without sudo: one clear error each, naming the machine', async () => {
  const file = spec('bad-machines.json', [
    { name: 'controller-1', role: 'control-plane', address: machines[0]!.ip, user: 'root', key: keys.good },
    { name: 'worker-1', role: 'worker', address: '10.250.0.99', user: 'root', key: keys.good },
    { name: 'worker-2', role: 'worker', address: machines[2]!.ip, user: 'plain', key: keys.good },
  ]);
  const run = await cli(file, 'nodes', '--keep-going');
  assert.is.not(run.code, 0);
  assert.match(run.output, 'worker-1 (10.250.0.99:22): unreachable');
  assert.match(run.output, 'worker-2 (10.250.0.12:22): user plain is not root and cannot use sudo without a password');
  assert.ok(run.output.includes("hint: log in as root, or give plain passwordless sudo"), run.output);
  assert.not.ok(run.built.includes('node:worker-1') || run.built.includes('node:worker-2'), run.built.join(' '));
});

// The whole cluster on the machines, with no Docker either: the images the cluster runs (pause, CoreDNS,
// the test workload) are archives written by the build (lib/image-archive.ts), streamed to each machine's
// containerd over SSH.
test('cli, no Docker: the whole cluster on three machines passes cluster:smoke; a no-op run; a changed kubelet field restarts one kubelet', async () => {
  const file = spec('machines.json', threeMachines());
  const built = await cli(file, 'cluster');
  assert.is(built.code, 0, built.output.slice(-3000));
  const smoke = await cli(file, 'cluster:smoke');
  assert.is(smoke.code, 0, smoke.output.slice(-3000));
  assert.match(smoke.output, 'PASS pod to pod across workers');
  assert.not.match(smoke.output, 'FAIL');

  const noop = await cli(file, 'cluster');
  assert.is(noop.code, 0, noop.output);
  assert.equal(noop.built, []);
  // One batched read per machine; on workers it also lists containerd's images for the load probes.
  for (const m of ['controller-1', 'worker-1', 'worker-2']) assert.is(noop.stats.get(m), '1 connection(s), 1 exec(s), 0 SFTP request(s)', `${m}: ${noop.stats.get(m)}`);
  process.stdout.write(`cluster no-op wall time: ${Math.round(noop.wallMs)} ms\n`);

  spec('machines.json', threeMachines(), { kubeletOverrides: { 'worker-2': { maxPods: 50 } } });
  const changed = await cli(file, 'cluster');
  assert.is(changed.code, 0, changed.output);
  assert.ok(changed.built.includes('unit:worker-2:kubelet'), changed.built.join(' '));
  assert.equal(changed.built.filter((t) => t.startsWith('unit:')), ['unit:worker-2:kubelet']);
});

test('a changed host key is always refused, even with trust-new, and the known_hosts file is left as it was', async () => {
  const before = readFileSync(trusted.file, 'utf8');
  await rekeyHost(machines[2]!.container);
  for (const knownHosts of [trusted, new KnownHosts(trusted.file, true)]) {
    const error = await refusal(() => handle({ name: 'worker-2', host: machines[2]!.ip }, knownHosts).exec(['true']));
    assert.match(error.message, 'worker-2 (10.250.0.12:22): host key changed');
  }
  assert.is(readFileSync(trusted.file, 'utf8'), before);
});

test.run();
