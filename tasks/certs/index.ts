// The certs step: PKI, kubeconfigs, encryption config, the `certs` alias and `certs:check`, composed.

import { alias } from '../../lib/engine/target.ts';
import type { ClusterConfig } from '../config/config.ts';
import { certsCheckTarget } from './check.ts';
import { encryptionTarget } from './encryption.ts';
import { kubeconfigTargets } from './kubeconfig.ts';
import { pkiTargets } from './pki.ts';

export function certsStep(config: ClusterConfig) {
  const pki = pkiTargets(config);
  const kubeconfigs = kubeconfigTargets(config, pki);
  const encryption = encryptionTarget();
  const check = certsCheckTarget(config);
  const certs = alias('certs', 'Every certificate and key, the kubeconfigs and the encryption config', [...pki.all, ...kubeconfigs.all, encryption]);
  return { pki, kubeconfigs, encryption, check, certs, all: [...pki.all, ...kubeconfigs.all, encryption, check, certs] };
}
