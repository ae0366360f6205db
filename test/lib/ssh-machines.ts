// Test machines for the SSH transport: containers from the project's node image plus sshd and sudo
// (test/fixtures/ssh-machine/Dockerfile), on their own network (harder-t-ssh-net, 10.250.0.0/24), each
// with its own host keys and the test's keys authorised for root, `admin` (passwordless sudo) and `plain`
// (no sudo). The test starts them through Docker; the code under test reaches them only over SSH.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuild } from '../../lib/engine/index.ts';
import { connectDocker } from '../../lib/docker/connect.ts';
import { createPrivilegedContainer, ensureVolume } from '../../lib/docker/containers.ts';
import { ensureNetwork } from '../../lib/docker/networks.ts';
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

/** Key pairs made with ssh-keygen in a fresh directory: `good` is authorised on the machines, `wrong` is not. */
export function testKeys(): { dir: string; good: string; wrong: string; goodPub: string } {
  const dir = mkdtempSync(join(tmpdir(), 'harder-t-ssh-keys-'));
  for (const name of ['good', 'wrong']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `harder-t-ssh-${name}`, '-f', join(dir, name)]);
  return { dir, good: join(dir, 'good'), wrong: join(dir, 'wrong'), goodPub: readFileSync(join(dir, 'good.pub'), 'utf8') };
}

export type TestMachine = { name: string; container: string; ip: string };

/** Starts one machine per node at 10.250.0.<10+i>, waits for systemd, makes host keys, authorises `pub`. */
export async function startMachines(image: string, nodes: NodeSpec[], pub: string): Promise<TestMachine[]> {
  const client = await connectDocker();
  const network = await ensureNetwork(client, { name: SSH_NETWORK, subnet: SSH_SUBNET, gateway: '10.250.0.1', labels: { [CLUSTER_LABEL]: SSH_CLUSTER } });
  const machines: TestMachine[] = [];
  for (const [i, node] of nodes.entries()) {
    const ip = `10.250.0.${10 + i}`;
    const spec = nodeContainerSpec({ clusterName: SSH_CLUSTER, node, ip, image, network: network.name, extras: {} });
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

/** Removes every container and the network of the SSH test cluster (synchronous: for exit handlers too). */
export function removeMachines(): void {
  removeByLabelSync(`label=${CLUSTER_LABEL}=${SSH_CLUSTER}`);
}
