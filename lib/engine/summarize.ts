// Short lists of target names for messages: a few names are listed; many are counted per group, so
// cleaning the nodes of a cluster says "install (95), unit (14)…" instead of a 120-name line.

import { groupOf } from './target.ts';

/** How many names are listed one by one before they are counted per group instead. */
export const LIST_AT_MOST = 12;

export function summarizeNames(names: readonly string[], listAtMost = LIST_AT_MOST): string {
  if (names.length <= listAtMost) return names.join(', ');
  const counts = new Map<string, number>();
  for (const name of names) counts.set(groupOf(name), (counts.get(groupOf(name)) ?? 0) + 1);
  const groups = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return `${names.length} targets: ${groups.map(([group, n]) => `${group} (${n})`).join(', ')}`;
}
