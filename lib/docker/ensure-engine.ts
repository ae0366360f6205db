// Makes sure a Docker engine answers: when none does and we are root on Debian/Ubuntu with the default
// socket, installs Debian's docker.io (and debootstrap) with apt-get and starts dockerd in the background.
// Anywhere else it stops with one message naming what to install. Used by host:preflight and .ci/run.

import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { connectDocker, dockerAddress, dockerAnswers } from './connect.ts';
import { findDebootstrap } from './debootstrap.ts';
import { DockerUnavailableError } from './errors.ts';
import { canInstallHostPackages, installHostPackages, isDebianLike } from '../host-packages.ts';
import { runCommand } from '../run-command.ts';

export type EngineFacts = {
  serverVersion: string;
  apiVersion: string;
  cgroupVersion: string;
  cgroupDriver: string;
  storageDriver: string;
  /** What this function did: nothing, started an installed dockerd, or installed and started it. */
  action: 'none' | 'started' | 'installed';
};

export type EnsureEngineOptions = {
  log?: (line: string) => void;
  /** Install/start when possible (default true). False: only check, and fail with the clear error. */
  allowSetup?: boolean;
  /** How long to wait for a freshly started dockerd (default 60 s). */
  startTimeoutMs?: number;
  /** Where the started dockerd writes its log. */
  dockerdLog?: string;
  signal?: AbortSignal;
};

const DEFAULT_SOCKET = 'unix:///var/run/docker.sock';

/** One hint for the one reason the preflight will not install and start an engine itself. */
function whyNoSetupHint(address: string, allowSetup: boolean | undefined): string {
  if (address !== DEFAULT_SOCKET && address !== 'unix:///run/docker.sock') {
    return `DOCKER_HOST points at ${address}: start the engine that listens there, or unset DOCKER_HOST to use the local one`;
  }
  if (findDockerd()) return 'Docker is installed but not running: start it with `sudo systemctl start docker` (or `sudo dockerd >/var/log/dockerd.log 2>&1 &`)';
  if (!isDebianLike()) return 'install Docker Engine (https://docs.docker.com/engine/install/) and start it, then run again';
  if (allowSetup === false) return 'install it with `sudo apt-get install -y docker.io debootstrap` and start it with `sudo systemctl start docker`';
  return 'run again as root (the preflight then installs Debian\'s docker.io and debootstrap and starts dockerd), or install them yourself: `sudo apt-get install -y docker.io debootstrap && sudo systemctl start docker`';
}

/** Ensures an engine answers (installing/starting it where that is safe) and returns what it is. */
export async function ensureDockerEngine(options: EnsureEngineOptions = {}): Promise<EngineFacts> {
  const log = options.log ?? (() => undefined);
  let action: EngineFacts['action'] = 'none';
  if (!(await dockerAnswers())) {
    const address = dockerAddress();
    const canSetup =
      options.allowSetup !== false && (address === DEFAULT_SOCKET || address === 'unix:///run/docker.sock') && canInstallHostPackages();
    if (!canSetup) {
      throw new DockerUnavailableError(`Docker is not running: no engine answers at ${address}`, whyNoSetupHint(address, options.allowSetup));
    }
    // docker.io only where no engine is installed at all: Docker's own packages (/usr/bin/dockerd) stay.
    const missing = [...(findDockerd() ? [] : ['docker.io']), ...(findDebootstrap() ? [] : ['debootstrap'])];
    if (missing.length > 0) {
      log(`no Docker engine answers: installing ${missing.join(' and ')} with apt-get`);
      await installHostPackages(missing, { log, signal: options.signal });
    }
    action = missing.includes('docker.io') ? 'installed' : 'started';
    const dockerd = findDockerd();
    if (!dockerd) throw new DockerUnavailableError('dockerd is still missing after installing docker.io', 'install Docker Engine by hand');
    await startDockerd(dockerd, log, options.dockerdLog ?? '/var/log/dockerd.log');
    await waitForEngine(options.startTimeoutMs ?? 60_000, options.signal);
    log('Docker engine is ready');
  }
  const docker = await connectDocker();
  const info = (await docker.info()) as { ServerVersion?: string; CgroupVersion?: string; CgroupDriver?: string; Driver?: string };
  const version = (await docker.version()) as { ApiVersion?: string };
  return {
    serverVersion: info.ServerVersion ?? 'unknown',
    apiVersion: version.ApiVersion ?? 'unknown',
    cgroupVersion: info.CgroupVersion ?? '1',
    cgroupDriver: info.CgroupDriver ?? 'unknown',
    storageDriver: info.Driver ?? 'unknown',
    action,
  };
}

/** The dockerd binary: Debian's (/usr/sbin) or Docker's own packages' (/usr/bin). */
export function findDockerd(): string | undefined {
  return ['/usr/sbin/dockerd', '/usr/bin/dockerd', '/usr/local/bin/dockerd'].find((p) => existsSync(p));
}

/** Starts dockerd: through systemd when systemd is the init system, else as a detached background process. */
async function startDockerd(dockerd: string, log: (line: string) => void, logFile: string): Promise<void> {
  if (existsSync('/run/systemd/system')) {
    log('starting Docker with `systemctl start docker`');
    await runCommand(['systemctl', 'start', 'docker'], { onLine: log });
    return;
  }
  log(`starting ${dockerd} in the background (log: ${logFile})`);
  const out = openSync(logFile, 'a');
  const child = spawn(dockerd, [], { detached: true, stdio: ['ignore', out, out] });
  child.on('error', () => undefined);
  child.unref();
}

async function waitForEngine(timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (await dockerAnswers(2000)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new DockerUnavailableError(`dockerd was started but does not answer after ${Math.round(timeoutMs / 1000)} s`, 'see /var/log/dockerd.log');
}
