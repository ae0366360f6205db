// CNI configs for a worker: a network list (the bridge with the worker's planned pod CIDR, then portmap),
// and loopback. cniVersion 1.0.0 is the newest the Debian containernetworking-plugins 1.1.1 understand.

export const CNI_VERSION = '1.0.0';

/**
 * The pod network as a conflist: `bridge` gives each pod its address, `portmap` (chained after it) turns a
 * container's `hostPort` into DNAT rules on the node, per host IP and protocol. containerd passes the pod's
 * port mappings only to a plugin that declares the `portMappings` capability; without portmap a hostPort is
 * accepted by the API and silently never opened.
 */
export function renderCniBridge(podCidr: string): string {
  const config = {
    cniVersion: CNI_VERSION,
    name: 'bridge',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: podCidr }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export function renderCniLoopback(): string {
  return `${JSON.stringify({ cniVersion: CNI_VERSION, name: 'lo', type: 'loopback' }, null, 2)}\n`;
}
