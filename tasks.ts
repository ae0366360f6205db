// The CLI entry: `npx tsx tasks.ts <target…> [flags]`. Hands the project's targets, flags and commands
// to lib/cli; all logic lives there (and target definitions in tasks/).

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './lib/cli/index.ts';
import type { ClusterConfig } from './tasks/config/config.ts';
import * as project from './tasks/index.ts';
import { configureCluster, recordSpec, specCommand, specFlags, stateDirFor } from './tasks/config/spec.ts';

const code = await runCli<ClusterConfig>({
  argv: process.argv.slice(2),
  root: dirname(fileURLToPath(import.meta.url)),
  project: {
    program: 'npx tsx tasks.ts',
    flags: specFlags,
    // --name NAME: a cluster of its own, state in output/clusters/NAME/ (tasks/config/clusters.ts).
    stateDir: stateDirFor,
    // defaults ← harder.config.ts (or --config FILE) ← flags recorded in output/spec.json ← this run's flags.
    configure: configureCluster,
    // Then, when the spec changes the Kubernetes version of a running cluster, the upgrade's plan in order
    // (every run that has one, --dry-run included: it builds nothing and records nothing).
    record: async (config, context) => {
      await recordSpec(config, context);
      for (const line of project.upgradePlanLines(config, context.outDir, context.dryRun)) context.say(line);
    },
    targets: project.projectTargets,
    // Parametrised commands such as `load <image…>` (see lib/cli/README.md).
    // `spec` prints the effective spec and where each field came from (tasks/config/spec.ts).
    commands: { ...project.projectCommands(), spec: specCommand },
    // After a successful `cluster`: how to use kubectl now (the merged context, or `tasks.ts kubectl …`).
    notes: project.projectNotes,
    // A node or cluster failure suggests `logs` (tasks/logs/hint.ts).
    failureHint: project.logsHint,
  },
});

// Every build has finished or been cancelled: a handle a library left open (a keep-alive socket to
// dockerd) must not keep the CLI alive. stdout/stderr writes are synchronous on Linux, so none is lost.
process.exit(code);
