// Debian packages the build needs on the host running it (docker.io and debootstrap for the nodes,
// busybox-static for the test image): installed with apt-get where that is safe, as root on
// Debian/Ubuntu, and nowhere else (the caller's error then names what to install). One apt-get at a
// time per process: dpkg takes a lock, and two targets may find a package missing at once.

import { readFileSync } from 'node:fs';
import { runCommand } from './run-command.ts';

function osRelease(): Record<string, string> {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return Object.fromEntries(
      text
        .split('\n')
        .map((line) => /^([A-Z_]+)=("?)(.*)\2$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[3]!]),
    );
  } catch {
    return {};
  }
}

export function isDebianLike(): boolean {
  const os = osRelease();
  return [os.ID, ...(os.ID_LIKE ?? '').split(' ')].some((id) => id === 'debian' || id === 'ubuntu');
}

/** Whether installHostPackages may run here: root on Debian or Ubuntu. */
export function canInstallHostPackages(): boolean {
  return process.getuid?.() === 0 && isDebianLike();
}

let aptQueue: Promise<unknown> = Promise.resolve();
let updated = false;

/** `apt-get install -y --no-install-recommends <packages>` (after one `apt-get update` per process), queued behind any other install. */
export function installHostPackages(packages: string[], options: { log?: (line: string) => void; signal?: AbortSignal } = {}): Promise<void> {
  const log = options.log ?? (() => undefined);
  const run = aptQueue.then(async () => {
    if (!updated) {
      await runCommand(['apt-get', 'update'], { onLine: log, signal: options.signal });
      updated = true;
    }
    await runCommand(['apt-get', 'install', '-y', '--no-install-recommends', ...packages], { onLine: log, signal: options.signal, env: { DEBIAN_FRONTEND: 'noninteractive' } });
  });
  aptQueue = run.catch(() => undefined);
  return run;
}
