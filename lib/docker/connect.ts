// Connects to the local Docker engine (DOCKER_HOST honoured) and fails with one clear message when
// none answers. dockerode is imported lazily so that CLI runs that touch no container stay fast.

import type Dockerode from 'dockerode';
import { enginePing, engineEndpoint } from './engine-api.ts';
import { DockerUnavailableError } from './errors.ts';

/** Where the engine is expected, as the user would write it in DOCKER_HOST. */
export function dockerAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST && env.DOCKER_HOST.length > 0 ? env.DOCKER_HOST : 'unix:///var/run/docker.sock';
}

/** The advice printed when the engine does not answer. Shared with the host preflight. */
export const START_DOCKER_HINT =
  'start it with `sudo systemctl start docker` (or `sudo dockerd >/var/log/dockerd.log 2>&1 &`), ' +
  'or run `npx tsx tasks.ts host:preflight` to install Debian\'s docker.io and start it; ' +
  'if your engine listens elsewhere, set DOCKER_HOST';

const clients = new Map<string, Promise<Dockerode>>();

/**
 * A dockerode client for the engine at DOCKER_HOST (or the default socket), checked with a ping.
 * Cached per address for the process, so every helper shares one client (and its keep-alive agent).
 * Throws DockerUnavailableError when nothing answers within `timeoutMs`.
 */
export function connectDocker(options: { timeoutMs?: number } = {}): Promise<Dockerode> {
  const address = dockerAddress();
  let client = clients.get(address);
  if (!client) {
    client = openClient(address, options.timeoutMs ?? 5000);
    clients.set(address, client);
    // A failed connection is not cached: the next call (after the user started Docker) tries again.
    client.catch(() => clients.delete(address));
  }
  return client;
}

async function openClient(address: string, timeoutMs: number): Promise<Dockerode> {
  const { default: Docker } = await import('dockerode');
  // No options: docker-modem reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH itself.
  const docker = new Docker();
  await pingDocker(docker, address, timeoutMs);
  return docker;
}

/** Pings the engine; throws DockerUnavailableError naming the address and the low-level cause. */
export async function pingDocker(docker: Dockerode, address = dockerAddress(), timeoutMs = 5000): Promise<void> {
  try {
    // dockerode's types omit the options argument that carries the abort signal.
    await (docker.ping as unknown as (opts: object) => Promise<unknown>)({ abortSignal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { code?: string; message?: string }).code ?? (error as Error).message;
    throw new DockerUnavailableError(`Docker is not running: no engine answers at ${address} (${cause})`, START_DOCKER_HINT, {
      cause: error,
    });
  }
}

/** True when an engine answers at DOCKER_HOST (or the default socket), without throwing. */
export async function dockerAnswers(timeoutMs = 3000): Promise<boolean> {
  // The light client (engine-api.ts) when it can reach the engine: no dockerode load for a ping.
  if (engineEndpoint()) {
    try {
      await enginePing(timeoutMs);
      return true;
    } catch {
      return false;
    }
  }
  const { default: Docker } = await import('dockerode');
  try {
    await pingDocker(new Docker(), dockerAddress(), timeoutMs);
    return true;
  } catch {
    return false;
  }
}
