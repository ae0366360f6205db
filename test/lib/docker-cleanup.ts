// Removes every container, volume and network that carries a label, synchronously: for test files'
// exit handlers, which run after an early exit when test.after never did (and before a first test).

import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

/** `filter` is a Docker label filter such as `label=harder.cluster=harder-t-remove`. */
export function removeByLabelSync(filter: string): void {
  const script = [
    `ids=$(docker ps -aq --filter "$1"); [ -n "$ids" ] && docker rm -f -v $ids`,
    `vols=$(docker volume ls -q --filter "$1"); [ -n "$vols" ] && docker volume rm $vols`,
    `nets=$(docker network ls -q --filter "$1"); [ -n "$nets" ] && docker network rm $nets`,
    'true',
  ].join('\n');
  execFileSync('bash', ['-c', script, 'cleanup', filter], { stdio: 'ignore', timeout: 120_000 });
}

/**
 * A test file's last line of defence: on exit (also after SIGINT/SIGTERM) removes what carries the label,
 * unless `done()` said test.after already cleaned up, and removes the scratch directories either way.
 */
export function cleanUpOnExit(filter: string, dirs: readonly string[]): { done(): void } {
  let cleaned = false;
  process.on('exit', () => {
    try {
      if (!cleaned) removeByLabelSync(filter);
    } catch {
      // Nothing more can be done on the way out; the next run's test.before removes what is left.
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  return { done: () => void (cleaned = true) };
}
