// The images the cluster runs, built locally (no registry is reachable): the pod sandbox ("pause"), a
// tiny HTTP test workload, and CoreDNS; plus `load:<image>@<node>` targets that put them into each
// node's containerd, and the `load <image…>` command for any local image.

import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { alias, target, type AnyTarget, type DepMap, type Target } from '../../lib/engine/target.ts';
import type { NodeContainer } from '../nodes/containers.ts';
import { cachePath } from '../../lib/cache-root.ts';
import { connectDocker } from '../../lib/docker/connect.ts';
import { buildImage, inspectImage, removeImage, type ContextFile } from '../../lib/docker/images.ts';
import { imageRefProblem, loadImageIntoNode, loadImagesIntoNode, probeNodeImageId, type LocalImages } from '../../lib/docker/load-image.ts';
import { kubeadmImageVersions } from './image-versions.ts';
import { readOnlyView } from '../../lib/node/handle.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import { goModDownload, plainModuleWrapper } from '../../lib/go-build.ts';
import { buildGoBinary, checkVersion, GO_MISSING_HINT, parseVersion } from '../binaries/index.ts';
import { workers, type ClusterConfig } from '../config/config.ts';
import type { ProjectCommand } from '../../lib/cli/index.ts';
import { CliError, StepError } from '../../lib/errors.ts';
import { runCommand } from '../../lib/run-command.ts';

/** The pause and CoreDNS versions for a Kubernetes version (the config check refuses one without a row). */
function imageVersions(kubernetesVersion: string): { pause: string; coredns: string } {
  const { minor } = parseVersion(kubernetesVersion);
  const row = kubeadmImageVersions(kubernetesVersion);
  if (!row) {
    throw new ImageError(
      `no pause/CoreDNS versions recorded for Kubernetes 1.${minor}`,
      'add a row to KUBEADM_IMAGE_VERSIONS in tasks/images/image-versions.ts (PauseVersion and CoreDNSVersion from cmd/kubeadm/app/constants/constants.go)',
    );
  }
  return row;
}

/** The sandbox image for a Kubernetes version; containerd's `sandbox_image` must be exactly this. */
export function pauseImageFor(kubernetesVersion: string): string {
  return `registry.k8s.io/pause:${imageVersions(kubernetesVersion).pause}`;
}

/** The CoreDNS image for a Kubernetes version (same name as upstream, so manifests need no change). */
export function corednsImageFor(kubernetesVersion: string): string {
  return `registry.k8s.io/coredns/coredns:${imageVersions(kubernetesVersion).coredns}`;
}

/** containerd `sandbox_image` for the default Kubernetes version: `registry.k8s.io/pause:3.10.1`. */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.1';
/** CoreDNS for the default Kubernetes version (kubeadm's CoreDNSVersion for 1.34). */
export const COREDNS_IMAGE = 'registry.k8s.io/coredns/coredns:v1.12.1';
/** The smoke-test workload: busybox httpd answering with the container's hostname, plus a shell. */
export const TEST_IMAGE = 'harder.local/echo:1';
/** The port the test image serves on (override with the PORT environment variable of the container). */
export const TEST_IMAGE_PORT = 8080;

/** Label on every image built here, so cleaning removes only what this project made. */
const IMAGE_LABEL = 'harder.cluster-image';

export class ImageError extends StepError {}

/** Runs a host command; a missing program gets the given install hint. */
function runTool(argv: string[], missingHint: string, signal?: AbortSignal): Promise<string> {
  return runCommand(argv, { missingHint, signal });
}

/** True when an ELF file has no program interpreter, i.e. is statically linked (needed in FROM scratch). */
async function isStaticElf(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(64);
    await file.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return false; // ELF64 only
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await file.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    await file.close();
  }
}

/** Checks the kubeadm constants in the module source against the table above; a drift is a clear error. */
async function checkKubeadmConstants(moduleDir: string, kubernetesVersion: string): Promise<void> {
  const source = await readFile(join(moduleDir, 'cmd/kubeadm/app/constants/constants.go'), 'utf8');
  const expected = imageVersions(kubernetesVersion);
  const pause = /PauseVersion\s*=\s*"([^"]+)"/.exec(source)?.[1];
  const coredns = /CoreDNSVersion\s*=\s*"([^"]+)"/.exec(source)?.[1];
  if (pause !== expected.pause || coredns !== expected.coredns) {
    throw new ImageError(
      `Kubernetes ${kubernetesVersion} expects pause ${pause} and CoreDNS ${coredns}, but tasks/images/cluster-images.ts records ${expected.pause} and ${expected.coredns}`,
      'correct KUBEADM_IMAGE_VERSIONS in tasks/images/image-versions.ts',
    );
  }
}

/** `docker build` of a context into `tag`, labelled as ours (`kind` says which image); resolves with the image ID. */
export async function dockerBuild(tag: string, kind: string, context: ContextFile[], log: (line: string) => void, signal: AbortSignal): Promise<string> {
  const docker = await connectDocker();
  // Only the step headlines: the engine's per-step container chatter is noise in a progress view.
  const onProgress = (line: string) => {
    if (/^(Step \d|Successfully tagged)/.test(line)) log(line);
  };
  return buildImage(docker, { tags: [tag], context, labels: { [IMAGE_LABEL]: kind }, onProgress, signal });
}

/** The probe of an image target: the tag still points at the image this target built. */
export async function probeImage(tag: string, id: string): Promise<string | undefined> {
  const info = await inspectImage(undefined, tag);
  if (!info) return `image ${tag} is gone from Docker`;
  return info.id === id ? undefined : `${tag} now points to ${info.id.slice(7, 19)}, not ${id.slice(7, 19)}`;
}

/** Removes the tag, but only from an image this project built (never a pulled image of the same name). */
export async function cleanImage(tag: string): Promise<void> {
  const docker = await connectDocker();
  const info = await inspectImage(docker, tag);
  if (info?.labels[IMAGE_LABEL]) await removeImage(docker, tag);
}

// ---- pause -----------------------------------------------------------------------------------

const CC_HINT = 'install a C compiler with a static libc: `apt-get install gcc libc6-dev` (or musl-tools and set CC=musl-gcc)';

export function pauseImageTarget(config: ClusterConfig) {
  const tag = pauseImageFor(config.kubernetesVersion);
  const version = imageVersions(config.kubernetesVersion).pause;
  return target({
    name: 'image:pause',
    description: `${tag}: the pod sandbox, a static C build of build/pause from the k8s.io/kubernetes module`,
    deps: {},
    version: 1,
    inputs: { values: { tag, kubernetesVersion: config.kubernetesVersion }, env: ['CC', 'HARDER_CACHE'] },
    build: async (ctx): Promise<string> => {
      const module = await goModDownload('k8s.io/kubernetes', config.kubernetesVersion, { signal: ctx.signal, missingHint: GO_MISSING_HINT });
      await checkKubeadmConstants(module.dir, config.kubernetesVersion);
      const binary = cachePath('images', 'pause', version, 'pause');
      await mkdir(dirname(binary), { recursive: true });
      const cc = process.env.CC || 'gcc';
      const temp = `${binary}.tmp-${process.pid}`;
      // The flags of upstream's build/pause/Makefile; VERSION is what `pause -v` prints.
      await runTool([cc, '-Os', '-Wall', '-Werror', '-static', `-DVERSION=v${version}-harder`, '-o', temp, join(module.dir, 'build/pause/linux/pause.c')], CC_HINT, ctx.signal);
      await rename(temp, binary);
      if (!(await isStaticElf(binary))) throw new ImageError(`${cc} produced a dynamically linked pause`, CC_HINT);
      ctx.log(`compiled ${binary} with ${cc} -static`);
      const context: ContextFile[] = [
        { path: 'pause', content: await readFile(binary), mode: 0o755 },
        { path: 'Dockerfile', content: 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' },
      ];
      return dockerBuild(tag, 'pause', context, ctx.log, ctx.signal);
    },
    probe: async (id) => probeImage(tag, id),
    clean: async () => cleanImage(tag),
  });
}

// ---- test workload ---------------------------------------------------------------------------

/** Where Debian's busybox-static puts its binary; HARDER_BUSYBOX overrides. */
const BUSYBOX_HINT = 'install Debian\'s static busybox: `apt-get install busybox-static` (or set HARDER_BUSYBOX to a static busybox)';

const SERVE_SCRIPT = `#!/bin/sh
# Serves this container's hostname over HTTP on $PORT (default ${TEST_IMAGE_PORT}), in the foreground.
mkdir -p /tmp/www
hostname > /tmp/www/index.html
exec httpd -f -v -p "\${PORT:-${TEST_IMAGE_PORT}}" -h /tmp/www
`;

export function testImageTarget() {
  return target({
    name: 'image:echo',
    description: `${TEST_IMAGE}: busybox httpd answering with the hostname, and a shell, for smoke tests`,
    deps: {},
    version: 1,
    inputs: { values: { tag: TEST_IMAGE, port: TEST_IMAGE_PORT }, env: ['HARDER_BUSYBOX'] },
    build: async (ctx): Promise<string> => {
      const busybox = process.env.HARDER_BUSYBOX || '/bin/busybox';
      if (!existsSync(busybox)) throw new ImageError(`${busybox} does not exist`, BUSYBOX_HINT);
      if (!(await isStaticElf(busybox))) throw new ImageError(`${busybox} is dynamically linked and cannot run in a FROM scratch image`, BUSYBOX_HINT);
      const context: ContextFile[] = [
        { path: 'busybox', content: await readFile(busybox), mode: 0o755 },
        { path: 'serve', content: SERVE_SCRIPT, mode: 0o755 },
        { path: 'passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
        { path: 'group', content: 'root:x:0:\nnogroup:x:65534:\n' },
        {
          path: 'Dockerfile',
          content: [
            'FROM scratch',
            'COPY busybox /bin/busybox',
            // Exec form: there is no shell until busybox has installed its applet links.
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
            'RUN ["/bin/sh", "-c", "mkdir -p -m 1777 /tmp && mkdir -p /root /etc"]',
            'COPY passwd group /etc/',
            'COPY serve /serve',
            'ENV PATH=/bin',
            `EXPOSE ${TEST_IMAGE_PORT}`,
            'CMD ["/serve"]',
            '',
          ].join('\n'),
        },
      ];
      return dockerBuild(TEST_IMAGE, 'echo', context, ctx.log, ctx.signal);
    },
    probe: async (id) => probeImage(TEST_IMAGE, id),
    clean: async () => cleanImage(TEST_IMAGE),
  });
}

// ---- CoreDNS ---------------------------------------------------------------------------------

export function corednsImageTarget(config: ClusterConfig) {
  const tag = corednsImageFor(config.kubernetesVersion);
  const version = imageVersions(config.kubernetesVersion).coredns;
  return target({
    name: 'image:coredns',
    description: `${tag}: CoreDNS built from the github.com/coredns/coredns Go module`,
    deps: {},
    version: 1,
    inputs: { values: { tag, kubernetesVersion: config.kubernetesVersion }, env: ['HARDER_CACHE'] },
    build: async (ctx): Promise<string> => {
      const wrapper = await plainModuleWrapper('github.com/coredns/coredns', version, ['github.com/coredns/coredns'], {
        wrapperModule: 'harder.local/coredns-build',
        fallbackGo: '1.23.0',
        signal: ctx.signal,
        missingHint: GO_MISSING_HINT,
      });
      const built = await buildGoBinary({
        name: 'coredns',
        version,
        wrapper,
        package: 'github.com/coredns/coredns',
        ldflags: ['-s', '-w', `-X github.com/coredns/coredns/coremain.GitCommit=${version}`],
        signal: ctx.signal,
        log: ctx.log,
      });
      await checkVersion(built.path, { versionArgs: ['-version'], versionOutput: [`CoreDNS-${version.slice(1)}`] });
      const context: ContextFile[] = [
        { path: 'coredns', content: await readFile(built.path), mode: 0o755 },
        // Runs as root (upstream's image runs as nonroot with a file capability for port 53, which a
        // FROM scratch build cannot set); the Deployment can still drop every capability but NET_BIND_SERVICE.
        { path: 'Dockerfile', content: 'FROM scratch\nCOPY coredns /coredns\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]\n' },
      ];
      return dockerBuild(tag, 'coredns', context, ctx.log, ctx.signal);
    },
    probe: async (id) => probeImage(tag, id),
    clean: async () => cleanImage(tag),
  });
}

// ---- load into nodes -------------------------------------------------------------------------

/** Manifest → config digests of images in the nodes (see probeNodeImageId): read by probes, written by load builds. */
const configCacheFile = (outDir: string): string => join(outDir, 'cache', 'containerd-image-configs.json');

/** One image in one node's containerd. */
export type LoadResult = { ref: string; node: string; container: string; id: string };

/**
 * `load:<image>@<node>`: the image (an image target's result is its Docker ID) in the node's containerd.
 * Skips the transfer when the node already has that image; the probe re-checks both sides, so a node
 * recreated since (empty containerd) or a local image rebuilt since gets loaded again.
 */
export function loadTarget(imageName: string, ref: string, image: Target<string> | undefined, node: Target<NodeContainer, DepMap>) {
  const nodeName = node.name.replace(/^node:/, '');
  return target({
    name: `load:${imageName}@${nodeName}`,
    description: `${ref} in ${nodeName}'s containerd (namespace k8s.io)`,
    // Without an image target (the load command, for any local image) the Docker ID is read at build time.
    deps: image ? { node, image } : { node },
    version: 1,
    inputs: { values: { ref } },
    build: async (ctx): Promise<LoadResult> => {
      const where = ctx.deps.node;
      // The build, not the probe, writes the digest cache: probes (and so --dry-run) only read.
      const outcome = await loadImageIntoNode(nodeFleet.of(ctx).node(where.container), ref, { signal: ctx.signal, log: ctx.log, configCache: configCacheFile(ctx.outDir) });
      return { ref: outcome.ref, node: where.name, container: where.container, id: outcome.id };
    },
    probe: async (result, ctx) => {
      const local = await inspectImage(undefined, ref);
      if (local && local.id !== result.id) return `Docker's ${ref} is now ${local.id.slice(7, 19)}, the node has ${result.id.slice(7, 19)}`;
      let present: string | undefined;
      try {
        // One shared image listing per node; manifest → config digests remembered across runs.
        present = await probeNodeImageId(readOnlyView(nodeFleet.of(ctx).node(result.container)), result.ref, configCacheFile(ctx.outDir));
      } catch (error) {
        return `cannot check ${result.node}: ${(error as Error).message}`;
      }
      if (present === result.id) return undefined;
      return present ? `${result.node} has ${result.ref} as ${present.slice(7, 19)}, not ${result.id.slice(7, 19)}` : `${result.node} no longer has ${result.ref}`;
    },
  });
}

/**
 * Orders each load after its node's container runtime unit (`unit:<node>:containerd`): an import while a
 * config change restarts containerd fails ("transport is closing"). Ordering only: the unit's result is
 * the same after every restart, so a restart alone never re-runs a load.
 */
export function loadsAfterRuntime(loads: readonly AnyTarget[], runtimeOf: (node: string) => AnyTarget | undefined): void {
  for (const load of loads) {
    const node = load.name.slice(load.name.lastIndexOf('@') + 1);
    const runtime = runtimeOf(node);
    if (!runtime) throw new Error(`${load.name}: no container runtime target for node ${node}`);
    load.deps['runtime'] = runtime;
  }
}

export type ImageTargets = {
  pause: ReturnType<typeof pauseImageTarget>;
  echo: ReturnType<typeof testImageTarget>;
  coredns: ReturnType<typeof corednsImageTarget>;
  loads: AnyTarget[];
  images: AnyTarget;
  all: AnyTarget[];
};

/**
 * The node targets whose containerd serves Kubernetes: the workers (control planes here run the
 * control plane as host processes, no kubelet). `node:<name>` targets from the nodes step.
 */
export function podNodeTargets(config: ClusterConfig, nodes: readonly AnyTarget[]): AnyTarget[] {
  const byName = new Map(nodes.map((t) => [t.name, t]));
  return workers(config)
    .map((node) => byName.get(`node:${node.name}`))
    .filter((t): t is AnyTarget => t !== undefined);
}

/**
 * The cluster images, and (given the node targets) one load target per (image, worker node):
 * `load:pause@worker-1`, `load:echo@worker-1`, `load:coredns@worker-1`, ... The alias `images` stands
 * for the builds and every load.
 */
export function imagesTargets(config: ClusterConfig, deps: { nodes?: AnyTarget[] } = {}): ImageTargets {
  const pause = pauseImageTarget(config);
  const echo = testImageTarget();
  const coredns = corednsImageTarget(config);
  const built: [string, string, Target<string>][] = [
    ['pause', pauseImageFor(config.kubernetesVersion), pause],
    ['echo', TEST_IMAGE, echo],
    ['coredns', corednsImageFor(config.kubernetesVersion), coredns],
  ];
  const loads: AnyTarget[] = [];
  for (const node of podNodeTargets(config, deps.nodes ?? [])) for (const [name, ref, image] of built) loads.push(loadTarget(name, ref, image, node));
  const images = alias('images', 'The pause, test and CoreDNS images, built and loaded into every worker node', [pause, echo, coredns, ...loads]);
  return { pause, echo, coredns, loads, images, all: [pause, echo, coredns, ...loads, images] };
}

/** What `load:<node>` of the load command made: every image of the command in that node's containerd. */
export type NodeLoadResult = { node: string; container: string; images: { ref: string; id: string }[] };

/**
 * For the `load <image…>` command: one target per worker node (`load:worker-1`), all running side by
 * side, each loading every image of the command into its node as `kind load` does: one `docker save`
 * stream to one `ctr images import` for what the node lacks, `ctr images tag` for an image it holds
 * under another name, nothing for what it has. They always run: each run compares image IDs.
 * `images` replaces Docker (tests).
 */
export function loadCommandTargets(refs: string[], nodes: readonly AnyTarget[], images?: LocalImages): AnyTarget[] {
  return nodes.map((node) => {
    const nodeName = node.name.replace(/^node:/, '');
    return target({
      name: `load:${nodeName}`,
      description: `${refs.join(', ')} in ${nodeName}'s containerd (namespace k8s.io)`,
      deps: { node: node as Target<NodeContainer, DepMap> },
      inputs: { values: { refs } },
      alwaysRun: true,
      build: async (ctx): Promise<NodeLoadResult> => {
        const where = ctx.deps.node;
        const outcomes = await loadImagesIntoNode(nodeFleet.of(ctx).node(where.container), refs, { images, signal: ctx.signal, log: ctx.log, configCache: configCacheFile(ctx.outDir) });
        return { node: where.name, container: where.container, images: outcomes.map((o) => ({ ref: o.ref, id: o.id })) };
      },
    });
  });
}

/**
 * The images Docker answers it does not have: one inspect each (the light client, no dockerode). When
 * Docker does not answer (host:preflight may yet install it), none: the load's build reports it then.
 */
async function imagesDockerLacks(refs: string[]): Promise<string[]> {
  try {
    const found = await Promise.all(refs.map((ref) => inspectImage(undefined, ref)));
    return refs.filter((_, i) => !found[i]);
  } catch {
    return [];
  }
}

/** The `load <image…>` command (tasks/index.ts exports it through projectCommands). */
export function loadCommand(): ProjectCommand<ClusterConfig> {
  return {
    usage: '<image…>',
    description: "load local Docker images into every worker node's containerd (k8s.io namespace), skipping nodes that already have them",
    async targets(args, config, registry) {
      if (args.length === 0) throw new CliError('bad-command-args', 'load needs at least one image name', 'npx tsx tasks.ts load harder.local/echo:1');
      // Checked before anything builds: a bad name would otherwise become a containerd name
      // (`docker.io/library/:latest`) and fail only after the whole node chain was built.
      for (const [i, ref] of args.entries()) {
        const problem = imageRefProblem(ref);
        if (problem) throw new CliError('bad-command-args', `load: argument ${i + 1}: ${problem}`, 'name[:tag] or name@sha256:<digest> of an image Docker has, e.g. harder.local/echo:1 or nginx:1.27 (docker images lists them)');
      }
      const nodes = podNodeTargets(config, registry);
      if (nodes.length === 0) throw new CliError('bad-command-args', 'there are no worker node targets to load images into', 'check the nodes in tasks/config/config.ts');
      const missing = await imagesDockerLacks(args);
      if (missing.length) {
        throw new CliError('bad-command-args', `Docker has no image ${missing.join(', ')}: nothing to load`, 'build or pull it first (docker images lists the local images)');
      }
      return loadCommandTargets(args, nodes);
    },
  };
}
