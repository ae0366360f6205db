// The preflight of a machine reached over SSH: before anything is changed on it, one command reads what
// the cluster needs of it (Debian 12, systemd as PID 1, root or passwordless sudo, the build host's
// architecture, no swap, the cgroup mode) and every problem is reported at once, naming the machine and
// what to do.

import type { NodeHandle } from '../../lib/node/handle.ts';
import { MachineError } from '../../lib/node/machine-error.ts';
import { hostArch } from '../../lib/host-arch.ts';
import { NODE_ARCHES } from '../config/arches.ts';

export type MachineFacts = {
  /** `<ID> <VERSION_ID>` from /etc/os-release, e.g. `debian 12`. */
  os: string;
  /** dpkg's architecture: `amd64`, `arm64`. */
  arch: string;
  /** `v2` (unified), `v1` or `hybrid`: the kubelet's cgroup driver works with each; v1 is in maintenance. */
  cgroup: 'v1' | 'v2' | 'hybrid';
};

/** Runs as root (sudo -n for another login): a sudo refusal is told apart from the facts by its marker. */
const FACTS_SCRIPT = [
  'echo "@@uid=$(id -u)"',
  '. /etc/os-release 2>/dev/null; echo "@@os=${ID:-unknown} ${VERSION_ID:-unknown}"',
  'echo "@@init=$(cat /proc/1/comm 2>/dev/null)"',
  'echo "@@arch=$(dpkg --print-architecture 2>/dev/null || uname -m)"',
  'echo "@@swap=$(($(wc -l < /proc/swaps) - 1))"',
  'fs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null); if [ "$fs" = cgroup2fs ]; then echo "@@cgroup=v2"; elif [ -d /sys/fs/cgroup/unified ]; then echo "@@cgroup=hybrid"; else echo "@@cgroup=v1"; fi',
].join('\n');

/**
 * Why a machine of `arch` cannot be the node its spec entry describes, or undefined. `expected` is the
 * entry's `arch`, absent when it gives none: then the machine must have the build host's (`buildArch`),
 * for which every binary and image is built anyway; another architecture is built for only when the
 * spec asks for it, because the graph (and a dry run) must know its targets before any machine is asked.
 */
export function archProblem(arch: string, expected: string | undefined, buildArch: string): { problem: string; hint: string } | undefined {
  if (!(NODE_ARCHES as readonly string[]).includes(arch)) return { problem: `its architecture is ${arch}; the nodes must be amd64 or arm64`, hint: 'use amd64 or arm64 machines' };
  if (arch === (expected ?? buildArch)) return undefined;
  if (expected === undefined) {
    return {
      problem: `it is ${arch}, and its spec entry gives no arch, which means the build host's (${buildArch})`,
      hint: `add "arch": "${arch}" to its entry in machines: its binaries and images are then cross-built for ${arch}`,
    };
  }
  return { problem: `it is ${arch}, not ${expected} as its spec entry says`, hint: `set "arch": "${arch}" in its entry in machines, or check that its address is the machine you meant` };
}

function facts(stdout: string): Map<string, string> {
  return new Map([...stdout.matchAll(/^@@(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
}

/** The login the messages name: `user`, and `address` as `host:port`. */
export type Login = { user: string; address: string };

/** What the preflight checks a machine against: its spec entry's `arch`, and the build host's (a parameter for tests). */
export type ArchExpectation = { expected?: string; buildArch?: string };

/** `login` defaults to an SshNodeHandle's own machine (a fleet's handle wraps it, so its target passes it). */
export async function machinePreflight(node: NodeHandle & { machine?: { user: string; host: string; port?: number } }, login?: Login, signal?: AbortSignal, arch: ArchExpectation = {}): Promise<MachineFacts> {
  const user = login?.user ?? node.machine?.user ?? 'root';
  const address = login?.address ?? (node.machine ? `${node.machine.host}:${node.machine.port ?? 22}` : node.name);
  const fail = (problem: string, hint?: string) => new MachineError(node.name, address, problem, hint);
  // Read-only: the preflight changes nothing, whatever it finds.
  const result = await node.exec(['bash', '-c', FACTS_SCRIPT], { allowFailure: true, readOnly: true, signal });
  const stderr = result.stderr.toString('utf8');
  const found = facts(result.stdout.toString('utf8'));
  if (!found.has('uid')) {
    if (/^sudo:/m.test(stderr)) {
      throw fail(`user ${user} is not root and cannot use sudo without a password (${stderr.trim().split('\n')[0]})`, `log in as root, or give ${user} passwordless sudo: \`echo '${user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/${user}\``);
    }
    throw fail(`the preflight command did not run (exit ${result.exitCode}): ${stderr.trim().slice(0, 300) || 'no output'}`, 'the login shell must be a POSIX shell with bash installed');
  }
  const problems: string[] = [];
  const hints: string[] = [];
  if (found.get('uid') !== '0') problems.push(`commands run as uid ${found.get('uid')}, not root`);
  const os = found.get('os') ?? 'unknown';
  if (os !== 'debian 12') {
    problems.push(`it runs ${os}, not Debian 12 (bookworm)`);
    hints.push('install Debian 12 on it: the node packages and their versions are bookworm\'s');
  }
  if (found.get('init') !== 'systemd') {
    problems.push(`PID 1 is ${found.get('init') || 'unknown'}, not systemd`);
    hints.push('boot it with systemd as init');
  }
  const actual = found.get('arch') ?? 'unknown';
  const mismatch = archProblem(actual, arch.expected, arch.buildArch ?? hostArch());
  if (mismatch) {
    problems.push(mismatch.problem);
    hints.push(mismatch.hint);
  }
  if (Number(found.get('swap') ?? '0') > 0) {
    problems.push('swap is on');
    hints.push('turn it off (`swapoff -a`, and remove the swap line from /etc/fstab): Kubernetes the Hard Way runs its nodes without swap');
  }
  if (problems.length > 0) throw fail(problems.join('; '), hints.join('; ') || undefined);
  return { os, arch: actual, cgroup: (found.get('cgroup') ?? 'v1') as MachineFacts['cgroup'] };
}
