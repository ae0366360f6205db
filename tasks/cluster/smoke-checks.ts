// The shape of a check an add-on adds to cluster:smoke: run after the built-in checks, with the smoke
// workload (an echo Deployment behind a Service) up, and reported PASS/FAIL like them.

import type { Kubectl } from './kubectl.ts';

export type SmokeEnv = {
  /** The built kubectl with the admin kubeconfig. */
  kubectl: Kubectl;
  /** PEM of the cluster CA: what a client on the host trusts. */
  ca: string;
  /** The smoke workload: its namespace, its Service and port, and the names of its running pods (each answers with its name). */
  workload: { namespace: string; service: string; port: number; pods: () => string[] };
  signal: AbortSignal;
};

export type SmokeAddonCheck = { name: string; run: (env: SmokeEnv) => Promise<{ ok: boolean; saw: string }> };
