// The run resource every step reaches nodes through: each run's NodeFleet, reading what the run's
// registered targets declare for each node (declareNodeReads), closed when the run ends. The transport is
// chosen per node: a machine target declares its SSH login (declareMachine), anything else is a Docker
// container; a run with only machines never talks to Docker.

import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { dockerNodes } from '../../lib/docker/node-access.ts';
import { runResource } from '../../lib/engine/resources.ts';
import { NodeFleet, nodeReadsOf } from '../../lib/node/fleet.ts';
import type { NodeHandle } from '../../lib/node/handle.ts';
import { KnownHosts } from '../../lib/node/known-hosts.ts';
import { sshNodes, type SshMachine, type SshNodeHandle } from '../../lib/node/ssh.ts';

/** Where a target object carries the SSH login of its node (a symbol: not an input, not in JSON). */
const MACHINE: unique symbol = Symbol.for('harder.ssh-machine');

type Declaring = { [MACHINE]?: { address: string; machine: SshMachine } };

/** How the fleet and every result name a machine: `user@address` (`:port` when not 22). */
export function machineAddress(m: { user: string; address: string; port?: number }): string {
  return `${m.user}@${m.address}${m.port && m.port !== 22 ? `:${m.port}` : ''}`;
}

/** Attaches the SSH login of the node at `address` to target `t`: the fleet of a run with `t` reaches that node over SSH. */
export function declareMachine<T extends object>(t: T, address: string, machine: SshMachine): T {
  Object.defineProperty(t, MACHINE, { value: { address, machine }, enumerable: false });
  return t;
}

/** The SSH machines the targets declare, by address; `~/` and relative key paths resolved (home, `root`). */
export function machinesOf(targets: Iterable<object>, root: string): Map<string, SshMachine> {
  const machines = new Map<string, SshMachine>();
  for (const t of targets) {
    const declared = (t as Declaring)[MACHINE];
    if (!declared) continue;
    const { key } = declared.machine;
    const resolved = key === undefined ? undefined : key.startsWith('~/') ? join(homedir(), key.slice(2)) : isAbsolute(key) ? key : join(root, key);
    machines.set(declared.address, { ...declared.machine, key: resolved });
  }
  return machines;
}

/** The project's known_hosts: the host keys trusted for SSH machines (lib/node/known-hosts.ts). */
export function knownHostsFile(outDir: string): string {
  return join(outDir, 'ssh', 'known_hosts');
}

/** `nodeFleet.of(ctx)` in a build or probe; a test hands a run a fake one with `provide(nodeFleet, fakeFleet(…))`. */
export const nodeFleet = runResource<NodeFleet>({
  name: 'nodes',
  create: ({ targets, root, outDir }) => {
    const machines = machinesOf(targets, root);
    const docker = dockerNodes();
    const ssh = sshNodes({
      knownHosts: new KnownHosts(knownHostsFile(outDir), process.env.HARDER_TRUST_NEW_HOSTS === '1'),
      onRecorded: (machine, address) => void process.stderr.write(`ssh: trusted the host key of ${machine} (${address}) on first use; recorded in ${knownHostsFile(outDir)}\n`),
    });
    const used: SshNodeHandle[] = [];
    const connect = (address: string): NodeHandle => {
      const machine = machines.get(address);
      if (!machine) return docker.connect(address);
      const handle = ssh.connect(machine);
      used.push(handle);
      return handle;
    };
    const close = async () => {
      // HARDER_SSH_STATS=1: what each machine cost this run (the no-op figures in the docs are these).
      if (process.env.HARDER_SSH_STATS === '1') {
        for (const h of used) process.stderr.write(`ssh-stats ${h.name}: ${h.stats.connects} connection(s), ${h.stats.execs} exec(s), ${h.stats.sftpRequests} SFTP request(s)\n`);
      }
      docker.close();
      await ssh.close();
    };
    return new NodeFleet({ connect, declared: nodeReadsOf(targets), close });
  },
  dispose: (fleet) => fleet.close(),
});
