// CNI configs for a worker: a bridge with the worker's planned pod CIDR, and loopback.
// cniVersion 1.0.0 is the newest the Debian containernetworking-plugins 1.1.1 understand.

export const CNI_VERSION = '1.0.0';

export function renderCniBridge(podCidr: string): string {
  const config = {
    cniVersion: CNI_VERSION,
    name: 'bridge',
    type: 'bridge',
    bridge: 'cni0',
    isGateway: true,
    ipMasq: true,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: podCidr }]],
      routes: [{ dst: '0.0.0.0/0' }],
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export function renderCniLoopback(): string {
  return `${JSON.stringify({ cniVersion: CNI_VERSION, name: 'lo', type: 'loopback' }, null, 2)}\n`;
}
