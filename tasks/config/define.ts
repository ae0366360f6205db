// defineCluster: the typed helper a harder.config.ts spec file calls, so the editor completes fields and flags typos.

import type { ClusterConfig } from './config.ts';
import type { AddonsSpec } from '../addons/spec.ts';

/**
 * A cluster spec: any ClusterConfig fields (tasks/config/config.ts), the rest keep their defaults.
 * Checked at run time by the same checker as the flags, one message per problem naming the file and field.
 */
export type ClusterSpec = Partial<Omit<ClusterConfig, 'addons'>> & { addons?: AddonsSpec };

/** Returns the spec unchanged: it exists for its type (completion, excess-field and type errors in the editor and in `tsc`). */
export function defineCluster(spec: ClusterSpec): ClusterSpec {
  return spec;
}
