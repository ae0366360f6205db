// Container and volume helpers over the Docker API: inspect, list by label, remove, ensure a labelled
// volume, and create+start a container that needs kernel privileges, falling back from `privileged`
// to an explicit capability set on engines that refuse it.

import type Dockerode from 'dockerode';
import { connectDocker } from './connect.ts';
import { engineEndpoint, engineInspect } from './engine-api.ts';
import { DockerError, DockerUnavailableError, engineMessage, statusCodeOf } from './errors.ts';

/** The container `name`, or undefined when it does not exist. */
export async function inspectContainer(docker: Dockerode | undefined, name: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
  try {
    // Without a client (probes), the light client answers when it can: no dockerode load.
    if (!docker && engineEndpoint()) return await engineInspect<Dockerode.ContainerInspectInfo>('containers', name);
    docker ??= await connectDocker();
    return await docker.getContainer(name).inspect();
  } catch (error) {
    if (statusCodeOf(error) === 404) return undefined;
    if (error instanceof DockerUnavailableError) throw error;
    throw new DockerError(`inspecting container ${name} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
}

/** Force-removes a container (and its anonymous volumes); a missing container is not an error. */
export async function removeContainer(docker: Dockerode, nameOrId: string): Promise<boolean> {
  try {
    await docker.getContainer(nameOrId).remove({ force: true, v: true });
    return true;
  } catch (error) {
    const status = statusCodeOf(error);
    // 409 "removal already in progress" means someone else is removing it: that is what we want.
    if (status === 404 || status === 409) return false;
    throw new DockerError(`removing container ${nameOrId} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
}

/** `labels` as the engine's filter syntax: every `key=value` must match. */
function labelFilter(labels: Record<string, string>): string {
  return JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
}

/** Containers (running or not) carrying all the given labels. */
export async function listContainersByLabel(docker: Dockerode, labels: Record<string, string>): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: labelFilter(labels) });
}

/** Volumes carrying all the given labels. */
export async function listVolumesByLabel(docker: Dockerode, labels: Record<string, string>): Promise<string[]> {
  const { Volumes } = await docker.listVolumes({ filters: labelFilter(labels) });
  return (Volumes ?? []).map((v) => v.Name);
}

/** Creates the named volume with labels unless it exists; refuses a volume of the same name that lacks them. */
export async function ensureVolume(docker: Dockerode, name: string, labels: Record<string, string>): Promise<void> {
  try {
    const info = (await docker.getVolume(name).inspect()) as { Labels?: Record<string, string> | null };
    for (const [key, value] of Object.entries(labels)) {
      if (info.Labels?.[key] !== value) {
        throw new DockerError(
          `volume ${name} exists but is not ours (label ${key} is ${JSON.stringify(info.Labels?.[key] ?? null)}, expected ${JSON.stringify(value)})`,
          `remove it with \`docker volume rm ${name}\` if it is not needed, or choose another cluster name`,
        );
      }
    }
    return;
  } catch (error) {
    if (error instanceof DockerError) throw error;
    if (statusCodeOf(error) !== 404) throw new DockerError(`inspecting volume ${name} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
  await docker.createVolume({ Name: name, Labels: labels });
}

/** Removes a volume; a missing one is not an error. */
export async function removeVolume(docker: Dockerode, name: string): Promise<boolean> {
  try {
    await docker.getVolume(name).remove({ force: true } as object);
    return true;
  } catch (error) {
    if (statusCodeOf(error) === 404) return false;
    throw new DockerError(`removing volume ${name} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
}

/**
 * How a container that needs kernel privileges gets them.
 * - `privileged`: Docker's --privileged (what users' machines normally accept).
 * - `capabilities`: every capability except CAP_SYS_RESOURCE, seccomp/AppArmor unconfined, /proc and
 *   /sys paths unmasked, /dev/kmsg passed through, every device allowed in its devices cgroup. For sandboxes whose capability bounding set lacks
 *   CAP_SYS_RESOURCE, where --privileged fails with "unable to apply caps".
 */
export type PrivilegeMode = 'privileged' | 'capabilities';

/** The HostConfig fields that grant `mode`. */
export function privilegeHostConfig(mode: PrivilegeMode): Partial<Dockerode.HostConfig> {
  if (mode === 'privileged') return { Privileged: true };
  return {
    Privileged: false,
    CapAdd: ['ALL'],
    CapDrop: ['SYS_RESOURCE'],
    SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
    // The API form of the CLI's `--security-opt systempaths=unconfined`: nothing under /proc or /sys
    // masked or read-only (systemd and the kubelet write /proc/sys).
    MaskedPaths: [],
    ReadonlyPaths: [],
    Devices: [{ PathOnHost: '/dev/kmsg', PathInContainer: '/dev/kmsg', CgroupPermissions: 'rwm' }],
    // Every device allowed in the container's devices cgroup (cgroup v1), as --privileged allows: a cgroup
    // inside may be granted only what its parent has, and runc gives a privileged pod `a *:* rwm`, so with
    // Docker's default list such a pod failed to start ("failed to write \"a *:* rwm\"").
    DeviceCgroupRules: ['a *:* rwm'],
  };
}

/** True for the runtime error an engine gives when its sandbox cannot grant every capability. */
export function isCapabilityRefusal(error: unknown): boolean {
  return /unable to apply caps|operation not permitted.*cap|apply caps/i.test(engineMessage(error));
}

/** Per process and engine: the mode found to work, so the fallback is detected (and reported) once. */
const knownModes = new Map<string, Promise<PrivilegeMode>>();

export type PrivilegedCreateOptions = {
  /** The container spec without privilege fields; they are added for the chosen mode. */
  spec: Dockerode.ContainerCreateOptions;
  /** Force a mode instead of detecting it. */
  mode?: PrivilegeMode;
  /** Told once per run when the engine refuses --privileged and explicit capabilities are used. */
  log?: (message: string) => void;
  /** Key for remembering the detected mode (the engine address). */
  engineKey?: string;
};

/**
 * Creates and starts a container with kernel privileges. Tries `privileged` first (unless told otherwise);
 * when the runtime refuses it ("unable to apply caps"), removes the half-made container, remembers
 * `capabilities` for the rest of the process and retries with it. Returns the container ID and mode.
 */
export async function createPrivilegedContainer(docker: Dockerode, options: PrivilegedCreateOptions): Promise<{ id: string; mode: PrivilegeMode }> {
  const engineKey = options.engineKey ?? 'default';
  if (options.mode) return { id: await createAndStart(docker, options.spec, options.mode), mode: options.mode };
  const known = knownModes.get(engineKey);
  if (known) {
    const mode = await known;
    return { id: await createAndStart(docker, options.spec, mode), mode };
  }
  // The first caller detects; concurrent callers wait for its answer instead of each failing once.
  let settle!: (mode: PrivilegeMode) => void;
  let fail!: (error: unknown) => void;
  const detection = new Promise<PrivilegeMode>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  detection.catch(() => undefined);
  knownModes.set(engineKey, detection);
  try {
    const id = await createAndStart(docker, options.spec, 'privileged');
    settle('privileged');
    return { id, mode: 'privileged' };
  } catch (error) {
    if (!isCapabilityRefusal(error)) {
      knownModes.delete(engineKey);
      fail(error);
      throw error;
    }
    options.log?.('this Docker engine refuses --privileged ("unable to apply caps"); using explicit capabilities instead (all but CAP_SYS_RESOURCE, seccomp/apparmor unconfined)');
    settle('capabilities');
    return { id: await createAndStart(docker, options.spec, 'capabilities'), mode: 'capabilities' };
  }
}

async function createAndStart(docker: Dockerode, spec: Dockerode.ContainerCreateOptions, mode: PrivilegeMode): Promise<string> {
  const full: Dockerode.ContainerCreateOptions = { ...spec, HostConfig: { ...spec.HostConfig, ...privilegeHostConfig(mode) } };
  let container: Dockerode.Container;
  try {
    container = await docker.createContainer(full);
  } catch (error) {
    throw new DockerError(`creating container ${spec.name ?? ''} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
  try {
    await container.start();
  } catch (error) {
    // A container that never started is useless and would block the name: remove it before reporting.
    await removeContainer(docker, container.id).catch(() => undefined);
    const wrapped = new DockerError(`starting container ${spec.name ?? container.id} failed: ${engineMessage(error)}`, undefined, { cause: error });
    throw wrapped;
  }
  return container.id;
}
