// User-defined bridge networks with a fixed IPv4 subnet: created once, labelled with their owner, and
// refused (with a clear error) when the name belongs to someone else or the subnet overlaps another network.

import type Dockerode from 'dockerode';
import { connectDocker } from './connect.ts';
import { engineEndpoint, engineInspect } from './engine-api.ts';
import { DockerError, DockerUnavailableError, engineMessage, statusCodeOf } from './errors.ts';

export type NetworkSpec = {
  name: string;
  subnet: string;
  gateway: string;
  /** Identify the owner: an existing network with this name must carry all of them. */
  labels: Record<string, string>;
  /**
   * Addresses Docker's IPAM must never hand out (IPAM auxiliary addresses): not to a container created
   * without a fixed address, and a container asking for one by hand is refused as "already in use".
   */
  reserved?: string[];
};

/** `reserved`: whether the network reserves every address of the spec's `reserved` (false: an older network kept as it was). */
export type NetworkInfo = { name: string; id: string; subnet: string; gateway: string; reserved: boolean };

/** The IPAM auxiliary-address map for `reserved` addresses: Docker wants a name per address. */
export function auxiliaryAddresses(reserved: readonly string[]): Record<string, string> {
  return Object.fromEntries(reserved.map((ip) => [`reserved-${ip.replace(/\./g, '-')}`, ip]));
}

/** Whether every address of `reserved` is an auxiliary address of the network's IPAM config. */
export function reservesAll(network: { IPAM?: { Config?: Array<{ AuxiliaryAddresses?: Partial<Record<string, string>> | null }> | null } | null }, reserved: readonly string[]): boolean {
  const held = new Set((network.IPAM?.Config ?? []).flatMap((c) => Object.values(c.AuxiliaryAddresses ?? {})));
  return reserved.every((ip) => held.has(ip));
}

/** The IPv4 subnets of a network's IPAM config. */
export function subnetsOf(network: { IPAM?: { Config?: Array<{ Subnet?: string }> | null } | null }): string[] {
  return (network.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter((s) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(s));
}

function parse(cidr: string): { base: number; size: number } {
  const [address, prefix] = cidr.split('/') as [string, string];
  const base = address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const size = 2 ** (32 - Number(prefix));
  return { base: base - (base % size), size };
}

export function subnetsOverlap(a: string, b: string): boolean {
  const x = parse(a);
  const y = parse(b);
  return x.base < y.base + y.size && y.base < x.base + x.size;
}

export class NetworkConflictError extends DockerError {}

/** The network `name`, or undefined. */
export async function inspectNetwork(docker: Dockerode | undefined, name: string): Promise<Dockerode.NetworkInspectInfo | undefined> {
  try {
    // Without a client (probes), the light client answers when it can: no dockerode load.
    if (!docker && engineEndpoint()) return await engineInspect<Dockerode.NetworkInspectInfo>('networks', name);
    docker ??= await connectDocker();
    return (await docker.getNetwork(name).inspect()) as Dockerode.NetworkInspectInfo;
  } catch (error) {
    if (statusCodeOf(error) === 404) return undefined;
    if (error instanceof DockerUnavailableError) throw error;
    throw new DockerError(`inspecting network ${name} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
}

/**
 * Makes sure the network exists as specified and returns it. An existing network of ours with the same
 * subnet is reused; one of ours with another subnet is removed first, after `onStaleMembers` has
 * dealt with its attached containers (they would keep addresses from the old subnet). An existing one that
 * lacks the `reserved` addresses (Docker cannot change a network's IPAM config) is recreated only while
 * no container is attached; with containers it is kept as it is (`reserved: false`, and `onUnreserved`
 * says so), never recreated under running nodes.
 */
export async function ensureNetwork(
  docker: Dockerode,
  spec: NetworkSpec,
  options: { onStaleMembers?: (containerIds: string[]) => Promise<void>; onUnreserved?: (missing: string[], members: number) => void; log?: (line: string) => void } = {},
): Promise<NetworkInfo> {
  const existing = await inspectNetwork(docker, spec.name);
  if (existing) {
    for (const [key, value] of Object.entries(spec.labels)) {
      if (existing.Labels?.[key] !== value) {
        throw new NetworkConflictError(
          `Docker network ${spec.name} already exists and is not ours (label ${key}=${JSON.stringify(existing.Labels?.[key] ?? null)}, expected ${JSON.stringify(value)})`,
          `remove it (\`docker network rm ${spec.name}\`) if nothing uses it, or choose another clusterName`,
        );
      }
    }
    const subnets = subnetsOf(existing);
    const gateways = (existing.IPAM?.Config ?? []).map((c) => c.Gateway);
    const reserved = spec.reserved ?? [];
    const members = Object.keys(existing.Containers ?? {});
    if (subnets.length === 1 && subnets[0] === spec.subnet && gateways[0] === spec.gateway) {
      if (reservesAll(existing, reserved)) return { name: spec.name, id: existing.Id, subnet: spec.subnet, gateway: spec.gateway, reserved: true };
      if (members.length > 0) {
        options.onUnreserved?.(reserved.filter((ip) => !reservesAll(existing, [ip])), members.length);
        return { name: spec.name, id: existing.Id, subnet: spec.subnet, gateway: spec.gateway, reserved: false };
      }
      options.log?.(`network ${spec.name} does not reserve ${reserved.length} addresses and has no container attached; recreating it with them reserved`);
    } else {
      options.log?.(`network ${spec.name} has subnet ${subnets.join(',') || 'none'}; recreating it with ${spec.subnet}`);
      if (members.length > 0) await options.onStaleMembers?.(members);
    }
    await removeNetwork(docker, existing.Id);
  }
  await refuseOverlaps(docker, spec);
  try {
    const network = await docker.createNetwork({
      Name: spec.name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: spec.labels,
      IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: spec.gateway, ...(spec.reserved?.length ? { AuxiliaryAddresses: auxiliaryAddresses(spec.reserved) } : {}) }] },
    });
    return { name: spec.name, id: network.id, subnet: spec.subnet, gateway: spec.gateway, reserved: true };
  } catch (error) {
    const message = engineMessage(error);
    if (/overlap/i.test(message)) {
      throw new NetworkConflictError(
        `cannot create Docker network ${spec.name} with subnet ${spec.subnet}: ${message}`,
        'choose another nodeSubnet in the cluster config (a route on the host may already use this range)',
        { cause: error },
      );
    }
    throw new DockerError(`creating Docker network ${spec.name} failed: ${message}`, undefined, { cause: error });
  }
}

/** Throws NetworkConflictError naming every other Docker network whose subnet overlaps spec.subnet. */
export async function refuseOverlaps(docker: Dockerode, spec: NetworkSpec): Promise<void> {
  const networks = await docker.listNetworks();
  const clashes: string[] = [];
  for (const network of networks) {
    if (network.Name === spec.name) continue;
    for (const subnet of subnetsOf(network as Parameters<typeof subnetsOf>[0])) {
      if (subnetsOverlap(subnet, spec.subnet)) clashes.push(`${network.Name} (${subnet})`);
    }
  }
  if (clashes.length > 0) {
    throw new NetworkConflictError(
      `subnet ${spec.subnet} for Docker network ${spec.name} overlaps ${clashes.join(', ')}`,
      'choose another nodeSubnet in the cluster config, or remove the other network if it is unused',
    );
  }
}

/** Removes a network; a missing one is not an error. */
export async function removeNetwork(docker: Dockerode, nameOrId: string): Promise<boolean> {
  try {
    await docker.getNetwork(nameOrId).remove();
    return true;
  } catch (error) {
    if (statusCodeOf(error) === 404) return false;
    throw new DockerError(`removing Docker network ${nameOrId} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
}

/** Networks carrying all the given labels. */
export async function listNetworksByLabel(docker: Dockerode, labels: Record<string, string>): Promise<Dockerode.NetworkInspectInfo[]> {
  return docker.listNetworks({ filters: JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) }) });
}
