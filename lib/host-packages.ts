// Debian packages the build needs on the host running it (docker.io and debootstrap for the nodes,
// busybox-static for the test image): installed with apt-get where that is safe, as root on
// Debian/Ubuntu, and nowhere else (the caller's error then names what to install). One apt-get at a
// time per process: dpkg takes a lock, and two targets may find a package missing at once.

import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

/**
 * Downloads Debian package `pkg` built for another architecture (`arm64`) into `dir`, with the host's
 * sources and trusted keys but an apt state of its own under `dir` (the host's package lists and its
 * dpkg stay untouched: nothing is installed). Returns the .deb's path and its version. A .deb already
 * in `dir` is reused without asking the mirror.
 */
export async function downloadForeignPackage(pkg: string, arch: string, dir: string, options: { log?: (line: string) => void; signal?: AbortSignal } = {}): Promise<{ path: string; version: string }> {
  const found = () => readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(`_${arch}.deb`));
  mkdirSync(join(dir, 'state', 'lists', 'partial'), { recursive: true });
  mkdirSync(join(dir, 'cache', 'archives', 'partial'), { recursive: true });
  let file = found();
  if (!file) {
    const apt = ['-o', `Dir::State=${join(dir, 'state')}`, '-o', `Dir::Cache=${join(dir, 'cache')}`, '-o', 'Dir::State::status=/dev/null', '-o', `APT::Architecture=${arch}`, '-o', `APT::Architectures::=${arch}`];
    const run = (args: string[]) => runCommand(['apt-get', ...apt, ...args], { cwd: dir, onLine: options.log, signal: options.signal, missingHint: `downloading Debian's ${arch} ${pkg} needs apt-get (a Debian or Ubuntu build host)` });
    await run(['update']);
    await run(['download', pkg]);
    file = found();
    if (!file) throw new Error(`apt-get download ${pkg} for ${arch} wrote no .deb into ${dir}`);
  }
  const path = join(dir, file);
  const version = (await runCommand(['dpkg-deb', '-f', path, 'Version'], { signal: options.signal })).trim();
  return { path, version };
}

/** The version of an installed Debian package on the host, or undefined when it is not installed. */
export async function installedVersion(pkg: string): Promise<string | undefined> {
  const out = await runCommand(['dpkg-query', '-W', '-f=${Status} ${Version}', pkg]).catch(() => '');
  const match = /^install ok installed (\S+)$/.exec(out.trim());
  return match?.[1];
}
