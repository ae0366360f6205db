// The conformance step: `bin:e2e.test`, `bin:ginkgo`, `bin:agnhost`, `bin:sample-apiserver`, the stand-in test images and their loads
// into every worker, `cluster:conformance` (the whole suite) and the `conformance [-- args]` command
// (the same run with --focus/--skip/--procs passed through).

import { target, type AnyTarget, type DepMap, type Target } from '../../lib/engine/target.ts';
import type { ProjectCommand } from '../../lib/cli/index.ts';
import type { BaseImageTarget } from '../images/node-image.ts';
import type { NodeContainer } from '../nodes/containers.ts';
import type { BinaryResult } from '../binaries/index.ts';
import { workers, type ClusterConfig } from '../config/config.ts';
import { nodeArch } from '../config/arches.ts';
import { hostArch } from '../../lib/host-arch.ts';
import { CliError, StepError } from '../../lib/errors.ts';
import { kubeconfigPath } from '../certs/kubeconfig.ts';
import { rootPath } from '../cluster/node-targets.ts';
import { e2eBinaryTarget } from './e2e-build.ts';
import { e2eImageTargets } from './images.ts';
import { DEFAULT_OPTIONS, parseConformanceArgs, runConformance, type ConformanceOptions } from './run.ts';

export type ConformanceStepInputs = {
  config: ClusterConfig;
  base: BaseImageTarget;
  /** The worker node targets (whose containerd runs pods). */
  workers: Target<NodeContainer, DepMap>[];
  runtimeOf: (node: string) => AnyTarget | undefined;
  /** The `cluster` alias: every node Ready, DNS up. */
  cluster: AnyTarget;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- whatever bin:kubectl depends on
  kubectl: Target<BinaryResult, any>;
  adminKubeconfig: AnyTarget;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RunDeps = DepMap & { kubectl: Target<BinaryResult, any>; e2eTest: ReturnType<typeof e2eBinaryTarget>; ginkgo: ReturnType<typeof e2eBinaryTarget> };

/** A run of the suite with these options; `deps` are the cluster, kubectl, the admin kubeconfig, e2e.test, ginkgo and every image load. */
function runTarget(config: ClusterConfig, name: string, description: string, options: ConformanceOptions, deps: RunDeps) {
  return target({
    name,
    description,
    deps,
    alwaysRun: true,
    inputs: { values: { options: JSON.stringify(options) } },
    build: async (ctx) => {
      const foreign = foreignWorkers(config);
      if (foreign.length) {
        throw new StepError(
          `the conformance suite's test images are built for the build host's architecture (${hostArch()}) only, and ${foreign.map((n) => `${n} is ${nodeArch(config, n)}`).join(', ')}`,
          `run the suite on a cluster whose workers are ${hostArch()}, or run the build on a machine of the workers' architecture`,
        );
      }
      return runConformance(
        options,
        {
          ginkgo: ctx.deps.ginkgo.path,
          e2eTest: ctx.deps.e2eTest.path,
          kubectl: rootPath(ctx.root, ctx.deps.kubectl.path),
          kubeconfig: rootPath(ctx.root, kubeconfigPath(config, 'admin')),
          outDir: ctx.outDir,
          root: ctx.root,
        },
        ctx.log,
        ctx.signal,
      );
    },
  });
}

/** Workers of another architecture than the build host's: the e2e images (from the Docker-built base image) are not made for them. */
function foreignWorkers(config: ClusterConfig): string[] {
  return workers(config).map((n) => n.name).filter((name) => nodeArch(config, name) !== hostArch());
}

export function conformanceStep(inputs: ConformanceStepInputs) {
  const e2eTest = e2eBinaryTarget(inputs.config, 'e2e.test');
  const ginkgo = e2eBinaryTarget(inputs.config, 'ginkgo');
  const agnhost = e2eBinaryTarget(inputs.config, 'agnhost');
  const sampleApiserver = e2eBinaryTarget(inputs.config, 'sample-apiserver');
  const nonewprivs = e2eBinaryTarget(inputs.config, 'nonewprivs');
  // Loaded only where they run: the suite refuses a cluster with workers of another architecture.
  const foreign = new Set(foreignWorkers(inputs.config));
  const nodes = inputs.workers.filter((t) => !foreign.has(t.name.replace(/^node:/, '')));
  const images = e2eImageTargets({ base: inputs.base, agnhost, sampleApiserver, nonewprivs, nodes, runtimeOf: inputs.runtimeOf });
  const deps: RunDeps = { cluster: inputs.cluster, kubectl: inputs.kubectl, admin: inputs.adminKubeconfig, e2eTest, ginkgo };
  for (const load of images.loads) deps[load.name] = load;
  const conformance = runTarget(inputs.config, 'cluster:conformance', 'The upstream [Conformance] e2e suite against the cluster (parallel, then [Serial]); report in output/conformance/<time>/', DEFAULT_OPTIONS, deps);
  return { e2eTest, ginkgo, agnhost, sampleApiserver, images: images.images, loads: images.loads, conformance, all: [e2eTest, ginkgo, agnhost, sampleApiserver, nonewprivs, ...images.all, conformance] };
}

/** `conformance [-- args]`: cluster:conformance itself, or (with arguments) a run of it with those options. */
export function conformanceCommand(): ProjectCommand<ClusterConfig> {
  return {
    usage: '[-- --focus REGEX --skip REGEX --procs N --parallel-only|--serial-only]',
    description: 'run the upstream [Conformance] e2e suite against the cluster (builds e2e.test and the test images first); report in output/conformance/<time>/',
    targets: (args, config, registry) => {
      const whole = registry.find((t) => t.name === 'cluster:conformance');
      if (!whole) throw new CliError('bad-command-args', 'there is no cluster:conformance target in this graph', 'check tasks/index.ts');
      if (args.length === 0) return [whole];
      const options = parseConformanceArgs(args);
      return [runTarget(config, 'cluster:conformance-focused', `The [Conformance] suite with ${args.join(' ')}`, options, whole.deps as RunDeps)];
    },
  };
}
