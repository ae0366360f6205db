// SSH machines without a network: the `machines` field of the spec (checked field by field, the nodes
// derived from it, its addresses in the IP plan), the trust file's decisions (lib/node/known-hosts.ts),
// the command line a handle sends, and the machine target's package decision on a recording fake node.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ConfigError } from '../../lib/errors.ts';
import { FakeNode } from '../../lib/node/fake.ts';
import { KnownHosts, fingerprint, hostPattern } from '../../lib/node/known-hosts.ts';
import { SshNodeHandle } from '../../lib/node/ssh.ts';
import { defaultConfig, type ClusterConfig, type MachineSpec } from '../../tasks/config/config.ts';
import { checkConfig, configFromFlags } from '../../tasks/config/options.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';
import { NODE_PACKAGES, harderPaths, installPackages, missingPackages } from '../../tasks/nodes/machines.ts';
import { machinesOf, machineAddress } from '../../tasks/nodes/node-fleet.ts';
import { nodesStep } from '../../tasks/nodes/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'harder-t-machines-'));
const three: MachineSpec[] = [
  { name: 'server', role: 'control-plane', address: '192.168.64.10', user: 'root', key: '~/.ssh/id_ed25519' },
  { name: 'node-0', role: 'worker', address: '192.168.64.20', user: 'debian' },
  { name: 'node-1', role: 'worker', address: '192.168.64.21', port: 2222, user: 'root', key: 'keys/node-1' },
];
const spec = (fields: Record<string, unknown>): string => {
  const file = join(dir, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(fields));
  return file;
};
function problems(fields: Record<string, unknown>, flags: Record<string, string> = {}): string[] {
  try {
    configFromFlags({ config: spec(fields), ...flags }, undefined, { warn: () => undefined });
  } catch (error) {
    if (error instanceof ConfigError) return error.facts.problems as string[];
    throw error;
  }
  return [];
}

test('machines are the nodes: names and roles from them, their own addresses in the IP plan', () => {
  const config = configFromFlags({ config: spec({ nodeSubnet: '192.168.64.0/24', machines: three }) });
  assert.equal(config.nodes, [
    { name: 'server', role: 'control-plane' },
    { name: 'node-0', role: 'worker' },
    { name: 'node-1', role: 'worker' },
  ]);
  const plan = planIps(config);
  assert.equal(plan.nodes.map((n) => [n.name, n.ip]), [['server', '192.168.64.10'], ['node-0', '192.168.64.20'], ['node-1', '192.168.64.21']]);
  assert.is(plan.apiServerUrl, 'https://192.168.64.10:6443');
  // Pod ranges are still the plan's, one per worker.
  assert.equal(plan.nodes.filter((n) => n.podCidr).map((n) => n.podCidr), ['10.200.0.0/24', '10.200.1.0/24']);
});

test('every machine problem is its own line naming the file and the field', () => {
  const bad = [
    { name: 'Server_1', role: 'control-plane', address: '192.168.64.10', user: 'root' },
    { name: 'node-0', role: 'boss', address: '192.168.64.300', user: 'root' },
    { name: 'node-1', role: 'worker', address: '192.168.64.10', user: 'root', port: 70000, password: 'x' },
    { name: 'node-2', role: 'worker', address: '10.9.9.9', user: '' },
  ];
  const lines = problems({ nodeSubnet: '192.168.64.0/24', machines: bad });
  const fields = lines.map((l) => l.split(': ')[1]);
  assert.equal(fields.sort(), ['machines[0].name', 'machines[1].address', 'machines[1].role', 'machines[2].address', 'machines[2].password', 'machines[2].port', 'machines[3].address', 'machines[3].user'].sort(), lines.join('\n'));
  for (const line of lines) assert.match(line, /^\/.*spec-\w+\.json: machines\[\d\]\.\w+: .+; .+/);
  assert.ok(lines.some((l) => l.includes('machines[2].address: 192.168.64.10 is also the address of machines[0]')));
  assert.ok(lines.some((l) => l.includes('machines[3].address: 10.9.9.9 is outside nodeSubnet 192.168.64.0/24')));
});

test('a worker count flag or a nodes list that disagrees with the machines is refused', () => {
  const flag = problems({ nodeSubnet: '192.168.64.0/24', machines: three }, { workers: '3' });
  assert.equal(flag.length, 1);
  assert.match(flag[0]!, /^--workers 3: the nodes are the machines/);
  const nodes = problems({ nodeSubnet: '192.168.64.0/24', machines: three, nodes: [{ name: 'server', role: 'control-plane' }] });
  assert.equal(nodes.length, 1);
  assert.match(nodes[0]!, 'nodes: differs from the machines');
  // The same list as the machines is no contradiction.
  assert.equal(problems({ nodeSubnet: '192.168.64.0/24', machines: three, nodes: three.map(({ name, role }) => ({ name, role })) }), []);
});

test('the default config has no machines and is unchanged by the field', () => {
  assert.equal(defaultConfig.machines, []);
  assert.equal(checkConfig(defaultConfig).errors, []);
});

test('node targets: a machine is its own target with its SSH login declared (key paths resolved); the rest stay containers', () => {
  const config: ClusterConfig = { ...defaultConfig, nodeSubnet: '192.168.64.0/24', machines: three, nodes: three.map(({ name, role }) => ({ name, role })) };
  const step = nodesStep(config, planIps(config));
  assert.equal(step.nodes.map((t) => t.description.split(' ')[0]), ['Machine', 'Machine', 'Machine']);
  // Each machine's install record stands on its node target, and is precious: cleaning it asks for --yes.
  const installs = step.all.filter((t) => t.name.startsWith('machine:'));
  assert.equal(installs.map((t) => Object.values(t.deps).map((d) => (d as { name: string }).name)), [['node:server'], ['node:node-0'], ['node:node-1']]);
  assert.ok(installs.every((t) => t.precious && t.clean));
  assert.equal(step.nodes.map((t) => Object.keys(t.deps)), [[], [], []]);
  const machines = machinesOf(step.all, '/project');
  assert.equal([...machines.keys()], ['root@192.168.64.10', 'debian@192.168.64.20', 'root@192.168.64.21:2222']);
  assert.is(machines.get('root@192.168.64.10')!.key, join(process.env.HOME ?? '', '.ssh/id_ed25519'));
  assert.is(machines.get('debian@192.168.64.20')!.key, undefined);
  assert.is(machines.get('root@192.168.64.21:2222')!.key, '/project/keys/node-1');
  // `nodes` is then the machines alone: no image, no Docker network.
  const alias = step.all.find((t) => t.name === 'nodes')!;
  assert.equal(Object.values(alias.deps).map((d) => (d as { name: string }).name).sort(), ['machine:node-0', 'machine:node-1', 'machine:server', 'node:node-0', 'node:node-1', 'node:server']);
  assert.is(machineAddress({ user: 'root', address: '10.0.0.1' }), 'root@10.0.0.1');
});

test('known_hosts: OpenSSH lines (plain and hashed) are trusted; unknown refused unless trust-new, then recorded; changed always refused', () => {
  const keyDir = mkdtempSync(join(dir, 'keys-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'host')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'other')]);
  const blob = (name: string) => Buffer.from(readFileSync(join(keyDir, `${name}.pub`), 'utf8').split(' ')[1]!, 'base64');
  const file = join(keyDir, 'known_hosts');
  // ssh-keygen's own fingerprint is the one the message shows.
  const expected = execFileSync('ssh-keygen', ['-lf', join(keyDir, 'host.pub')], { encoding: 'utf8' }).split(' ')[1]!;
  assert.is(fingerprint(blob('host')), expected);

  const strict = new KnownHosts(file);
  const unknown = strict.verify('server', '192.168.64.10', 22, blob('host'));
  assert.is(unknown.trusted, false);
  if (!unknown.trusted) assert.match(unknown.error.message, `server (192.168.64.10:22): host key unknown: it presented ssh-ed25519 ${expected}`);

  const tofu = new KnownHosts(file, true);
  assert.equal(tofu.verify('server', '192.168.64.10', 22, blob('host')), { trusted: true, recorded: true });
  assert.equal(tofu.verify('server', '192.168.64.10', 22, blob('host')), { trusted: true, recorded: false });
  assert.equal(strict.verify('server', '192.168.64.10', 22, blob('host')), { trusted: true, recorded: false });
  const changed = tofu.verify('server', '192.168.64.10', 22, blob('other'));
  assert.is(changed.trusted, false);
  if (!changed.trusted) assert.match(changed.error.message, 'host key changed');
  assert.is(readFileSync(file, 'utf8').trim().split('\n').length, 1);

  // A port other than 22 is its own host, written [host]:port, and ssh-keygen finds it by that name.
  assert.is(hostPattern('192.168.64.21', 2222), '[192.168.64.21]:2222');
  tofu.verify('node-1', '192.168.64.21', 2222, blob('other'));
  assert.match(execFileSync('ssh-keygen', ['-F', '[192.168.64.21]:2222', '-f', file], { encoding: 'utf8' }), 'ssh-ed25519');
  // Hashed entries (`ssh-keygen -H`, HashKnownHosts) are matched too.
  execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
  assert.match(readFileSync(file, 'utf8'), /^\|1\|/);
  assert.equal(strict.verify('server', '192.168.64.10', 22, blob('host')), { trusted: true, recorded: false });
  assert.is(strict.verify('server', '192.168.64.10', 22, blob('other')).trusted, false);
});

test('a machine\'s clean removes only what the cluster step writes: no package file, nothing outside its own paths', () => {
  const paths = harderPaths();
  for (const path of paths) assert.ok(/^\/(etc|var\/lib|usr\/local\/bin)\//.test(path), path);
  // Debian's files that the layout names are never in it.
  for (const debian of ['/usr/bin/etcd', '/usr/bin/etcdctl', '/usr/lib/cni', '/etc', '/var/lib', '/etc/systemd/system', '/etc/cni/net.d']) assert.not.ok(paths.includes(debian), debian);
  for (const p of NODE_PACKAGES) assert.not.ok(paths.includes(p.file), p.file);
  assert.ok(paths.includes('/etc/systemd/system/kubelet.service') && paths.includes('/var/lib/kubelet/kubeconfig') && paths.includes('/usr/local/bin/kubelet'));
  // etcd is built from its module and installed beside the Kubernetes binaries: harder's, so cleaned.
  assert.ok(paths.includes('/usr/local/bin/etcd') && paths.includes('/usr/local/bin/etcdctl') && paths.includes('/var/lib/etcd/harder'));
});

test('the command line: argv quoted for the login shell, sudo -n for a non-root login, env and working directory', () => {
  const knownHosts = new KnownHosts(join(dir, 'none'));
  const root = new SshNodeHandle({ name: 'a', host: 'h', user: 'root' }, { knownHosts });
  const sudo = new SshNodeHandle({ name: 'a', host: 'h', user: 'debian' }, { knownHosts });
  // What bash makes of the line is the argv again.
  const argv = ['printf', '%s|', "it's", '$HOME', 'a b', ''];
  const line = root.commandLine(argv);
  assert.is(execFileSync('bash', ['-c', line], { encoding: 'utf8' }), "it's|$HOME|a b||");
  assert.is(sudo.commandLine(['id']), 'sudo -n -- id');
  assert.is(sudo.commandLine(['id'], { user: 'plain' }), 'sudo -n -u plain -- id');
  assert.is(root.commandLine(['id'], { user: 'plain' }), 'runuser -u plain -- id');
  assert.is(execFileSync('bash', ['-c', root.commandLine(['bash', '-c', 'echo "$X $PWD"'], { env: { X: 'x y' }, workingDir: '/tmp' })], { encoding: 'utf8' }), 'x y /tmp\n');
});

test('packages: the probe names what is missing from the batched read; the build installs only that with apt, non-interactively', async () => {
  const node = new FakeNode('worker-1');
  const state = await node.readState({ files: [], binaries: NODE_PACKAGES.map((p) => p.file), units: [] });
  assert.equal(missingPackages(state), NODE_PACKAGES.map((p) => p.name));
  for (const p of NODE_PACKAGES) if (p.name !== 'socat' && p.name !== 'containerd') node.files.set(p.file, { content: Buffer.from('x'), mode: 0o755, mtime: 1 });
  assert.equal(missingPackages(await node.readState({ files: [], binaries: NODE_PACKAGES.map((p) => p.file), units: [] })), ['containerd', 'socat']);
  // etcd is no package of a node any more: bin:etcd builds it.
  assert.not.ok(NODE_PACKAGES.some((p) => p.name.startsWith('etcd')));

  const envs: (Record<string, string> | undefined)[] = [];
  const done = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 };
  node.onExec = (argv, opts) => {
    if (argv[0] === 'apt-get') return envs.push(opts.env), done;
    return argv[0] === 'systemctl' && argv[1] === 'enable' ? done : undefined;
  };
  const log: string[] = [];
  await installPackages(node, ['containerd', 'socat'], (l) => log.push(l));
  assert.equal(node.mutatingExecs(), [
    ['apt-get', 'update', '-q'],
    ['apt-get', 'install', '-y', '-q', '--no-install-recommends', 'containerd', 'socat'],
    // containerd enabled and running, as in the node image.
    ['systemctl', 'enable', '--now', 'containerd.service'],
  ]);
  assert.ok(envs.every((e) => e?.DEBIAN_FRONTEND === 'noninteractive'));
  assert.equal(log, ['worker-1: installing containerd, socat with apt']);

  const untouched = new FakeNode('worker-2');
  await installPackages(untouched, [], () => undefined);
  assert.equal(untouched.execs, []);
});

test('the sha256 fingerprint is OpenSSH\'s for an RSA key too', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const part = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const mpint = (b64: string) => {
    const b = Buffer.from(b64, 'base64url');
    return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
  };
  const blob = Buffer.concat([part(Buffer.from('ssh-rsa')), part(mpint(jwk.e)), part(mpint(jwk.n))]);
  const pub = join(dir, 'rsa.pub');
  writeFileSync(pub, `ssh-rsa ${blob.toString('base64')} test\n`);
  assert.is(fingerprint(blob), execFileSync('ssh-keygen', ['-lf', pub], { encoding: 'utf8' }).split(' ')[1]);
  assert.is(fingerprint(blob), `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`);
});

test.run();
