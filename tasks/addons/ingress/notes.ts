// After a run that built or checked addon:ingress: where the Ingress controller answers and the /etc/hosts
// lines that make its names resolve on this machine. Printed, never written: the hosts file is yours.

import { pkiDir } from '../../certs/catalog.ts';
import type { ClusterConfig } from '../../config/config.ts';
import { hostsLines } from './address.ts';
import type { IngressResult } from './index.ts';

export function ingressNotes(config: ClusterConfig, result: IngressResult): string[] {
  const where = `${result.address.ip}${result.address.port === 443 ? '' : `:${result.address.port}`}`;
  const lines = hostsLines(result.address, [`demo.${result.domain}`]);
  return [
    `ingress: https://*.${result.domain} at ${where}, its certificate from the cluster CA (${pkiDir(config)}/ca.crt); to reach a name from this machine add a line per Ingress host to /etc/hosts (kubectl get ingress -A lists them), e.g.: ${lines.join('; ')}`,
  ];
}
