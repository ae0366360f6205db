// What a failed run suggests besides its errors: for a failure on a node or in the cluster, the `logs`
// bundle (its journals, unit states, events) is where to look next. Not for a certificate, binary or
// image build, whose error already holds the whole story.

import type { Failure } from '../../lib/engine/index.ts';

/** Targets that act on nodes or the live cluster (tasks/nodes, tasks/cluster, the loads into nodes). */
const ON_NODES = /^(node|install|unit|cluster|ready|load|remove):/;

export const LOGS_HINT = "to collect every node's journals, unit states and the cluster's events into one bundle: npx tsx tasks.ts logs (with this run's --name or --config, if it had one)";

export function logsHint(failures: readonly Failure[]): string | undefined {
  return failures.some((f) => ON_NODES.test(f.target)) ? LOGS_HINT : undefined;
}
