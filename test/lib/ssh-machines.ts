// Test machines for the SSH transport: containers from the project's node image plus sshd and sudo
// (test/fixtures/ssh-machine/Dockerfile), on their own network (harder-t-ssh-net, 10.250.0.0/24), each
// with its own host keys and the test's keys authorised for root, `admin` (passwordless sudo) and `plain`
// (no sudo). The test starts them through Docker; the code under test reaches them only over SSH.

import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuild } from '../../lib/engine/index.ts';
import { connectDocker } from '../../lib/docker/connect.ts';
import { createPrivilegedContainer, ensureVolume } from '../../lib/docker/containers.ts';
import { ensureNetwork } from '../../lib/docker/networks.ts';
import { debootstrapImage } from '../../lib/docker/debootstrap.ts';
import { inspectImage } from '../../lib/docker/images.ts';
import { nodeHandle } from '../../lib/docker/node-access.ts';
import { waitForSystemd } from '../../lib/docker/systemd-ready.ts';
import { defaultConfig, type NodeSpec } from '../../tasks/config/config.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';
import { nodesStep } from '../../tasks/nodes/index.ts';
import { containerdVolumeName, nodeContainerSpec } from '../../tasks/nodes/containers.ts';
import { CLUSTER_LABEL } from '../../tasks/nodes/labels.ts';
import type { NodeImage } from '../../tasks/images/node-image.ts';
import { removeByLabelSync } from './docker-cleanup.ts';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const SSH_CLUSTER = 'harder-t-ssh';
export const SSH_NETWORK = 'harder-t-ssh-net';
export const SSH_SUBNET = '10.250.0.0/24';

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });

/** The project's node image (built by its own target, normally cached), then the test's image on top. */
export async function sshMachineImage(): Promise<string> {
  const config = { ...defaultConfig, clusterName: SSH_CLUSTER, nodeSubnet: SSH_SUBNET };
  const step = nodesStep(config, planIps(config));
  const out = mkdtempSync(join(tmpdir(), 'harder-t-ssh-image-'));
  const report = await runBuild({ targets: [step.host, step.base, step.image], requested: ['image:node'], root, outDir: out, jobs: 2 }).finally(() => rmSync(out, { recursive: true, force: true }));
  if (!report.ok) throw new Error(`image:node failed: ${report.failures.map((f) => f.message).join('; ')}`);
  const node = report.entries['image:node']!.result as NodeImage;
  const tag = `harder-t-ssh-machine:${node.id.replace(/^sha256:/, '').slice(0, 12)}`;
  // The Docker layer cache makes this a no-op after the first build for a node image.
  docker('build', '-q', '--build-arg', `NODE_IMAGE=${node.ref}`, '-t', tag, join(root, 'test/fixtures/ssh-machine'));
  return tag;
}

/**
 * An emulated arm64 machine: an arm64 Debian base (debootstrap --arch=arm64, reused while its tag
 * exists), the project's node Dockerfile and the test's SSH layer built on it by Docker, their RUN steps
 * running under qemu-user. Needs qemu-user-static registered in binfmt_misc with the F flag (Debian's
 * package does that), so a container's arm64 programs run with no interpreter inside it.
 */
export async function arm64SshMachineImage(log: (line: string) => void = (line) => process.stdout.write(`  ${line}\n`)): Promise<string> {
  const binfmt = readFileSync('/proc/sys/fs/binfmt_misc/qemu-aarch64', 'utf8');
  if (!binfmt.includes('enabled') || !/^flags: \S*F/m.test(binfmt)) throw new Error(`qemu-aarch64 is not registered in binfmt_misc with the F flag (${binfmt.trim().split('\n').join('; ')}): apt-get install qemu-user-static`);
  const base = 'harder-t-arm64-base:bookworm';
  const client = await connectDocker();
  if (!(await inspectImage(client, base))) {
    log(`debootstrap --arch=arm64 bookworm (a few minutes: its second stage runs under qemu-user)`);
    await debootstrapImage(client, { suite: 'bookworm', arch: 'arm64', tag: base, changes: ['CMD ["/bin/bash"]'], onProgress: () => undefined });
  }
  // The Docker layer cache makes both builds no-ops once made for this base.
  log('docker build of the node image and the SSH layer on the arm64 base (minutes under qemu-user when not cached)');
  docker('build', '-q', '--build-arg', `BASE_IMAGE=${base}`, '-t', 'harder-t-arm64-node:latest', join(root, 'tasks/images/node'));
  docker('build', '-q', '--build-arg', 'NODE_IMAGE=harder-t-arm64-node:latest', '-t', 'harder-t-arm64-ssh-machine:latest', join(root, 'test/fixtures/ssh-machine'));
  return 'harder-t-arm64-ssh-machine:latest';
}

/** Key pairs made with ssh-keygen in a fresh directory: `good` is authorised on the machines, `wrong` is not. */
export function testKeys(): { dir: string; good: string; wrong: string; goodPub: string } {
  const dir = mkdtempSync(join(tmpdir(), 'harder-t-ssh-keys-'));
  for (const name of ['good', 'wrong']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `harder-t-ssh-${name}`, '-f', join(dir, name)]);
  return { dir, good: join(dir, 'good'), wrong: join(dir, 'wrong'), goodPub: readFileSync(join(dir, 'good.pub'), 'utf8') };
}

export type TestMachine = { name: string; container: string; ip: string };

/**
 * Starts one machine per node at 10.250.0.<10+i>, waits for systemd, makes host keys, authorises `pub`.
 * `image` may differ per node (an emulated arm64 machine among amd64 ones).
 */
export async function startMachines(image: string | ((node: NodeSpec) => string), nodes: NodeSpec[], pub: string): Promise<TestMachine[]> {
  const client = await connectDocker();
  const network = await ensureNetwork(client, { name: SSH_NETWORK, subnet: SSH_SUBNET, gateway: '10.250.0.1', labels: { [CLUSTER_LABEL]: SSH_CLUSTER } });
  const machines: TestMachine[] = [];
  for (const [i, node] of nodes.entries()) {
    const ip = `10.250.0.${10 + i}`;
    const spec = nodeContainerSpec({ clusterName: SSH_CLUSTER, node, ip, image: typeof image === 'string' ? image : image(node), network: network.name, extras: {} });
    // /var/lib/containerd on a volume, as for the project's nodes: overlayfs on the container's own overlay
    // root fails, so pods could not start (a real machine's disk has no such problem). Labelled: removed with the rest.
    await ensureVolume(client, containerdVolumeName(spec.name!), { [CLUSTER_LABEL]: SSH_CLUSTER });
    await createPrivilegedContainer(client, { spec });
    machines.push({ name: node.name, container: spec.name!, ip });
  }
  await Promise.all(machines.map((m) => prepare(m.container, pub)));
  return machines;
}

/** Fresh host keys (each machine its own), the key authorised for root, admin and plain, sshd (re)started. */
async function prepare(container: string, pub: string): Promise<void> {
  const handle = nodeHandle(container);
  await waitForSystemd(handle, { timeoutMs: 120_000 });
  const script = [
    'set -e',
    'rm -f /etc/ssh/ssh_host_*',
    'ssh-keygen -A >/dev/null',
    'for home in /root /home/admin /home/plain; do',
    '  mkdir -p "$home/.ssh"; printf "%s\\n" "$1" > "$home/.ssh/authorized_keys"',
    '  owner=$(stat -c %U "$home"); chown -R "$owner:" "$home/.ssh"; chmod 700 "$home/.ssh"; chmod 600 "$home/.ssh/authorized_keys"',
    'done',
    'systemctl reset-failed ssh.service || true',
    'systemctl restart ssh.service',
  ].join('\n');
  await handle.exec(['bash', '-c', script, 'prepare', pub.trim()]);
}

/** New host keys on one machine (what a reinstall, or a man in the middle, looks like to a client). */
export async function rekeyHost(container: string): Promise<void> {
  await nodeHandle(container).exec(['bash', '-c', 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh.service']);
}

export type CliRun = { code: number; output: string; built: string[]; wallMs: number; stats: Map<string, string> };

/**
 * `tasks.ts <args> --config <file>` in the scratch project `root` with `env` (HARDER_SSH_STATS=1 makes
 * the run print each machine's connections, execs and SFTP requests, parsed into `stats`).
 */
export async function runCli(root: string, env: Record<string, string>, configFile: string, ...args: string[]): Promise<CliRun> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--config', configFile, '--plain', '-j', '4'], { cwd: root, reject: false, all: true, env, timeout: 15 * 60_000 });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  const stats = new Map([...output.matchAll(/^ssh-stats (\S+): (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode}, ${Math.round(performance.now() - started)} ms, built ${built.length}: ${built.join(' ')}\n${output.split('\n').filter((l) => /✗|hint|ssh-stats|ssh:|built, /.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built, wallMs: performance.now() - started, stats };
}

/** Removes every container and the network of the SSH test cluster (synchronous: for exit handlers too). */
export function removeMachines(): void {
  removeByLabelSync(`label=${CLUSTER_LABEL}=${SSH_CLUSTER}`);
}
