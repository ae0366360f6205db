// The certs step: PKI, kubeconfigs, encryption config, the `certs` alias and `certs:check`, composed.

import { alias } from '../../lib/engine/target.ts';
import type { ClusterConfig } from '../config/config.ts';
import type { IpPlan } from '../net/ip-plan.ts';
import { certsCheckTarget } from './check.ts';
import { encryptionTarget } from './encryption.ts';
import { kubeconfigTargets } from './kubeconfig.ts';
import { pkiTargets } from './pki.ts';

/** `plan` is the graph's IP plan (tasks/index.ts computes it once): certificate SANs and kubeconfig servers come from it. */
export function certsStep(config: ClusterConfig, plan: IpPlan) {
  const pki = pkiTargets(config, plan);
  const kubeconfigs = kubeconfigTargets(config, pki, plan);
  const encryption = encryptionTarget(config);
  const check = certsCheckTarget(config, plan);
  const certs = alias('certs', 'Every certificate and key, the kubeconfigs and the encryption config', [...pki.all, ...kubeconfigs.all, encryption]);
  return { pki, kubeconfigs, encryption, check, certs, all: [...pki.all, ...kubeconfigs.all, encryption, check, certs] };
}
