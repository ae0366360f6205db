// Host preflight: a Docker engine must answer before any image, network or node target runs. Where it
// is safe (root on Debian/Ubuntu, default socket) a missing engine is installed and started; elsewhere
// the run stops with one message naming what to install. The logic itself is lib/docker/ensure-engine.ts.

import { target } from '../../lib/engine/target.ts';

/** What the nodes are built on. Stable across runs, so dependents stay up to date (early cutoff). */
export type HostFacts = {
  dockerVersion: string;
  apiVersion: string;
  cgroupVersion: string;
  cgroupDriver: string;
  storageDriver: string;
};

export function hostPreflightTarget() {
  return target({
    name: 'host:preflight',
    description: 'Check that a Docker engine answers (install docker.io and start dockerd when root on Debian/Ubuntu)',
    deps: {},
    inputs: { env: ['DOCKER_HOST'] },
    build: async (ctx): Promise<HostFacts> => {
      const { ensureDockerEngine } = await import('../../lib/docker/ensure-engine.ts');
      const facts = await ensureDockerEngine({ log: ctx.log, signal: ctx.signal });
      ctx.log(`Docker ${facts.serverVersion} (API ${facts.apiVersion}), cgroup v${facts.cgroupVersion} (${facts.cgroupDriver}), ${facts.storageDriver}`);
      return {
        dockerVersion: facts.serverVersion,
        apiVersion: facts.apiVersion,
        cgroupVersion: facts.cgroupVersion,
        cgroupDriver: facts.cgroupDriver,
        storageDriver: facts.storageDriver,
      };
    },
    // Cheap (one ping): a stopped engine makes the preflight run again, which starts it or explains.
    probe: async () => {
      const { dockerAnswers, dockerAddress } = await import('../../lib/docker/connect.ts');
      return (await dockerAnswers()) ? undefined : `no Docker engine answers at ${dockerAddress()}`;
    },
  });
}
