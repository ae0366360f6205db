// The CLI entry: `npx tsx tasks.ts <target…> [flags]`. Hands the project's targets, flags and commands
// to lib/cli; all logic lives there (and target definitions in tasks/).

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, type ProjectCommand } from './lib/cli/index.ts';
import type { ClusterConfig } from './tasks/config.ts';
import * as project from './tasks/index.ts';
import { configFromFlags, projectFlags } from './tasks/options.ts';

// Parametrised commands (`load <image…>`) come from an optional `projectCommands(config)` export of
// tasks/index.ts, so step modules can add one without touching this file (see lib/cli/README.md).
const withCommands = project as { projectCommands?: () => Record<string, ProjectCommand<ClusterConfig>> };

const code = await runCli<ClusterConfig>({
  argv: process.argv.slice(2),
  root: dirname(fileURLToPath(import.meta.url)),
  project: {
    program: 'npx tsx tasks.ts',
    flags: projectFlags,
    configure: configFromFlags,
    targets: project.projectTargets,
    commands: withCommands.projectCommands?.() ?? {},
  },
});

// Every build has finished or been cancelled: a handle a library left open (a keep-alive socket to
// dockerd) must not keep the CLI alive. stdout/stderr writes are synchronous on Linux, so none is lost.
process.exit(code);
