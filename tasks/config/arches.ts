// Which CPU architecture each node has, and how the targets made for an architecture other than the build
// host's are named. Container nodes run on the build host, so they have its architecture; an SSH machine
// has the `arch` its spec entry gives (default: the build host's), which its preflight checks. A cluster's
// binaries and images are made once per architecture its nodes have; those for the build host's keep the
// names (and keys) they always had, those for another get `@<arch>` (`bin:kubelet@arm64`).

import { hostArch } from '../../lib/host-arch.ts';
import type { ClusterConfig, NodeRole } from './config.ts';

/** The architectures a node may have: those Kubernetes releases for that Debian 12 names as Go does. */
export const NODE_ARCHES = ['amd64', 'arm64'] as const;
export type NodeArch = (typeof NODE_ARCHES)[number];

/** A node's architecture: its machine's `arch`, else the build host's. */
export function nodeArch(config: Pick<ClusterConfig, 'machines'>, name: string, buildArch: string = hostArch()): string {
  return config.machines?.find((m) => m.name === name)?.arch ?? buildArch;
}

/**
 * The architectures of the nodes (of one role, if given), the build host's first when it is among them,
 * then the others sorted: each gets its own binaries and images.
 */
export function clusterArches(config: Pick<ClusterConfig, 'machines' | 'nodes'>, role?: NodeRole, buildArch: string = hostArch()): string[] {
  const arches = new Set(config.nodes.filter((n) => !role || n.role === role).map((n) => nodeArch(config, n.name, buildArch)));
  return [...arches].sort((a, b) => (a === buildArch ? -1 : b === buildArch ? 1 : a.localeCompare(b)));
}

/**
 * One target (or set of targets) per architecture, made on first use and the same object after: the
 * engine wants each registered once, and every dependent on the very object registered.
 */
export function perArch<T>(make: (arch: string) => T): (arch: string) => T {
  const made = new Map<string, T>();
  return (arch) => {
    if (!made.has(arch)) made.set(arch, make(arch));
    return made.get(arch)!;
  };
}

/** What a target made for `arch` adds to its name: nothing for the build host's architecture, else `@<arch>`. */
export function archSuffix(arch: string, buildArch: string = hostArch()): string {
  return arch === buildArch ? '' : `@${arch}`;
}
