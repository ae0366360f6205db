// Removes every container, volume and network that carries a label, synchronously: for test files'
// exit handlers, which run after an early exit when test.after never did (and before a first test).

import { execFileSync } from 'node:child_process';

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
