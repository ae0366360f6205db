// The images the cluster runs, built locally (no registry is reachable): the pod sandbox ("pause"), a
// tiny HTTP test workload, and CoreDNS; plus `load:<image>@<node>` targets that put them into each
// node's containerd, and the `load <image…>` command for any local image.

import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { alias, target, type AnyTarget, type DepMap, type Target } from '../../lib/engine/target.ts';
import type { NodeContainer } from '../nodes/containers.ts';
import { cachePath } from '../../lib/cache-root.ts';
import { inspectImage } from '../../lib/docker/images.ts';
import { archiveImages, type ImageEntry } from '../../lib/image-archive.ts';
import { scratchImageTarget, type ImageTarget } from './scratch-image.ts';
import { IMAGE_LISTING, IMAGE_LISTING_READ, imageRefProblem, loadImageIntoNode, loadImagesIntoNode, probeNodeImageId, type LocalImages } from '../../lib/docker/load-image.ts';
import { declareNodeReads } from '../../lib/node/fleet.ts';
import { kubeadmImageVersions } from './image-versions.ts';
import { readOnlyView } from '../../lib/node/handle.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import { GO_BUILD_POOL, goModDownload, plainModuleWrapper } from '../../lib/go-build.ts';
import { clusterCorednsPlugins, corednsPluginDirectives, EXCLUDED_COREDNS_PLUGINS, missingDirectives, renderCorednsMain } from './coredns-build.ts';
import { renderCorefile } from '../cluster/render/addons.ts';
import { buildGoBinary, checkBinary, GO_MISSING_HINT, parseVersion } from '../binaries/index.ts';
import { hostArch } from '../../lib/host-arch.ts';
import { elfProblem } from '../../lib/elf.ts';
import { archSuffix, nodeArch, perArch } from '../config/arches.ts';
import { workers, type ClusterConfig } from '../config/config.ts';
import type { ProjectCommand } from '../../lib/cli/index.ts';
import { CliError, StepError } from '../../lib/errors.ts';
import { runCommand } from '../../lib/run-command.ts';
import { canInstallHostPackages, downloadForeignPackage, installedVersion, installHostPackages } from '../../lib/host-packages.ts';

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

export class ImageError extends StepError {}

/** Runs a host command; a missing program gets the given install hint. */
function runTool(argv: string[], missingHint: string, signal?: AbortSignal): Promise<string> {
  return runCommand(argv, { missingHint, signal });
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

// ---- pause -----------------------------------------------------------------------------------

const CC_HINT = 'install a C compiler with a static libc: `apt-get install gcc libc6-dev` (or musl-tools and set CC=musl-gcc)';

/** Debian's cross compilers with a static libc, by Go's name of the CPU they compile for. */
const CROSS_GCC: Record<string, { cc: string; packages: string[] }> = {
  arm64: { cc: 'aarch64-linux-gnu-gcc', packages: ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'] },
  amd64: { cc: 'x86_64-linux-gnu-gcc', packages: ['gcc-x86-64-linux-gnu', 'libc6-dev-amd64-cross'] },
};

/** The C compiler for `arch`: $CC (or gcc) for the build host's, Debian's cross gcc (installed where that is safe) for another. */
async function compilerFor(arch: string, log: (line: string) => void, signal: AbortSignal): Promise<{ cc: string; hint: string }> {
  if (arch === hostArch()) return { cc: process.env.CC || 'gcc', hint: CC_HINT };
  const cross = CROSS_GCC[arch];
  if (!cross) throw new ImageError(`no cross compiler known for ${arch}`, `build on an ${arch} machine`);
  const hint = `install Debian's cross compiler for ${arch}: \`apt-get install ${cross.packages.join(' ')}\``;
  if (!(await runTool(['sh', '-c', `command -v ${cross.cc} || true`], hint, signal)).trim() && canInstallHostPackages()) {
    log(`${cross.cc} is missing: installing ${cross.packages.join(' ')} with apt-get`);
    await installHostPackages(cross.packages, { log, signal });
  }
  return { cc: cross.cc, hint };
}

/** `arch`: the CPU of the nodes it is for (default: the build host's; another gets a cross-compiled pause). */
export function pauseImageTarget(config: ClusterConfig, arch: string = hostArch()) {
  const tag = pauseImageFor(config.kubernetesVersion);
  const version = imageVersions(config.kubernetesVersion).pause;
  return scratchImageTarget({
    name: 'pause',
    arch,
    description: `${tag}: the pod sandbox, a static C build of build/pause from the k8s.io/kubernetes module`,
    ref: tag,
    deps: {},
    inputs: { values: { kubernetesVersion: config.kubernetesVersion }, env: ['CC', 'HARDER_CACHE'] },
    settings: { user: '65535:65535', entrypoint: ['/pause'] },
    files: async (ctx) => {
      const module = await goModDownload('k8s.io/kubernetes', config.kubernetesVersion, { signal: ctx.signal, missingHint: GO_MISSING_HINT });
      await checkKubeadmConstants(module.dir, config.kubernetesVersion);
      const binary = cachePath('images', 'pause', version, `pause${archSuffix(arch) ? `-${arch}` : ''}`);
      await mkdir(dirname(binary), { recursive: true });
      const { cc, hint } = await compilerFor(arch, ctx.log, ctx.signal);
      const temp = `${binary}.tmp-${process.pid}`;
      // The flags of upstream's build/pause/Makefile; VERSION is what `pause -v` prints.
      await runTool([cc, '-Os', '-Wall', '-Werror', '-static', `-DVERSION=v${version}-harder`, '-o', temp, join(module.dir, 'build/pause/linux/pause.c')], hint, ctx.signal);
      await rename(temp, binary);
      const problem = await elfProblem(binary, arch, { static: true });
      if (problem) throw new ImageError(`${cc} did not make a static ${arch} pause: ${problem}`, hint);
      ctx.log(`compiled ${binary} with ${cc} -static`);
      return [{ path: '/pause', content: await readFile(binary), mode: 0o755 }];
    },
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

/**
 * Debian's busybox-static for another CPU than the build host's: its .deb downloaded (not installed)
 * and unpacked into the cache. Its applets are the build host's busybox's (one Debian build
 * configuration for every architecture), so the two must be the same upstream version.
 */
async function foreignBusybox(arch: string, log: (line: string) => void, signal: AbortSignal): Promise<string> {
  const dir = cachePath('debs', arch);
  const deb = await downloadForeignPackage('busybox-static', arch, dir, { log, signal });
  const unpacked = join(dir, `busybox-static-${deb.version.replace(/[^\w.+-]/g, '_')}`);
  if (!existsSync(join(unpacked, 'bin/busybox'))) await runTool(['dpkg-deb', '-x', deb.path, unpacked], BUSYBOX_HINT, signal);
  const upstream = (v: string | undefined) => v?.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
  const host = await installedVersion('busybox-static');
  if (upstream(host) !== upstream(deb.version)) {
    throw new ImageError(`the ${arch} busybox-static is ${deb.version}, the build host's is ${host ?? 'not installed'}: the image's applet links come from the host's, so they must be one upstream version`, `apt-get install busybox-static on the build host (from the same Debian release), or delete ${dir} to fetch the mirror's current one`);
  }
  return join(unpacked, 'bin/busybox');
}

/** `arch`: the CPU of the nodes it is for (default: the build host's; another gets Debian's busybox for it). */
export function testImageTarget(arch: string = hostArch()) {
  return scratchImageTarget({
    name: 'echo',
    arch,
    description: `${TEST_IMAGE}: busybox httpd answering with the hostname, and a shell, for smoke tests`,
    ref: TEST_IMAGE,
    deps: {},
    inputs: { values: { port: TEST_IMAGE_PORT, serve: SERVE_SCRIPT }, env: ['HARDER_BUSYBOX'] },
    settings: { env: ['PATH=/bin'], exposedPorts: [String(TEST_IMAGE_PORT)], cmd: ['/serve'] },
    files: async (ctx) => {
      const busybox = process.env.HARDER_BUSYBOX || '/bin/busybox';
      // A fresh machine has none: installed as the preflight installs docker.io, where that is safe.
      if (!process.env.HARDER_BUSYBOX && !existsSync(busybox) && canInstallHostPackages()) {
        ctx.log(`${busybox} is missing: installing Debian's busybox-static with apt-get`);
        await installHostPackages(['busybox-static'], { log: ctx.log, signal: ctx.signal });
      }
      if (!existsSync(busybox)) throw new ImageError(`${busybox} does not exist`, BUSYBOX_HINT);
      const inImage = archSuffix(arch) ? await foreignBusybox(arch, ctx.log, ctx.signal) : busybox;
      const problem = await elfProblem(inImage, arch, { static: true });
      if (problem) throw new ImageError(`${problem}: the image needs a static ${arch} busybox`, BUSYBOX_HINT);
      // What `busybox --install -s /bin` would make inside the image: a link per applet.
      const applets = (await runTool([busybox, '--list'], BUSYBOX_HINT, ctx.signal)).split('\n').map((a) => a.trim()).filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
      return [
        { path: '/bin/busybox', content: await readFile(inImage), mode: 0o755 },
        ...applets.map((applet): ImageEntry => ({ path: `/bin/${applet}`, symlink: '/bin/busybox' })),
        { path: '/tmp', directory: true, mode: 0o1777 },
        { path: '/root', directory: true, mode: 0o700 },
        { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
        { path: '/etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
        { path: '/serve', content: SERVE_SCRIPT, mode: 0o755 },
      ];
    },
  });
}

// ---- CoreDNS ---------------------------------------------------------------------------------

/** The wrapper module of the CoreDNS build; its package `coredns` is the generated main. */
const COREDNS_WRAPPER = 'harder.local/coredns-build';

/** `arch`: the CPU of the nodes it is for (default: the build host's; another gets a cross build). */
export function corednsImageTarget(config: ClusterConfig, arch: string = hostArch()) {
  const tag = corednsImageFor(config.kubernetesVersion);
  const version = imageVersions(config.kubernetesVersion).coredns;
  return scratchImageTarget({
    name: 'coredns',
    arch,
    description: `${tag}: CoreDNS built from the github.com/coredns/coredns Go module`,
    ref: tag,
    deps: {},
    inputs: { values: { kubernetesVersion: config.kubernetesVersion, excludedPlugins: Object.keys(EXCLUDED_COREDNS_PLUGINS) }, env: ['HARDER_CACHE'] },
    // Runs as root (upstream's image runs as nonroot with a file capability for port 53, which this image's
    // layer does not carry); the Deployment can still drop every capability but NET_BIND_SERVICE.
    settings: { exposedPorts: ['53', '53/udp'], entrypoint: ['/coredns'] },
    pool: GO_BUILD_POOL,
    files: async (ctx) => {
      // Upstream's main with a trimmed plugin list (coredns-build.ts): its plugin.cfg, read from the module.
      const upstream = await goModDownload('github.com/coredns/coredns', version, { signal: ctx.signal, missingHint: GO_MISSING_HINT });
      const plugins = clusterCorednsPlugins(await readFile(join(upstream.dir, 'plugin.cfg'), 'utf8'));
      const wrapper = await plainModuleWrapper('github.com/coredns/coredns', version, [`${COREDNS_WRAPPER}/coredns`], {
        wrapperModule: COREDNS_WRAPPER,
        fallbackGo: '1.23.0',
        signal: ctx.signal,
        missingHint: GO_MISSING_HINT,
      });
      const built = await buildGoBinary({
        name: 'coredns',
        version,
        wrapper: { ...wrapper, sources: { 'coredns/main.go': renderCorednsMain(plugins) } },
        package: `${COREDNS_WRAPPER}/coredns`,
        ldflags: ['-s', '-w', `-X github.com/coredns/coredns/coremain.GitCommit=${version}`],
        arch,
        signal: ctx.signal,
        log: ctx.log,
      });
      await checkBinary(built.path, { arch, version, versionArgs: ['-version'], versionOutput: [`CoreDNS-${version.slice(1)}`] });
      // The cluster's own Corefile must need no plugin the build left out. A cross build cannot be asked
      // here; its plugins are those of the same generated main, which the list below is checked against.
      const listing = archSuffix(arch) ? corednsPluginDirectives(plugins) : await runTool([built.path, '-plugins'], GO_MISSING_HINT, ctx.signal);
      const missing = missingDirectives(listing, renderCorefile({ clusterDomain: 'cluster.local', upstreams: ['192.0.2.1'] }));
      if (missing.length) throw new ImageError(`the CoreDNS build lacks the plugin${missing.length > 1 ? 's' : ''} ${missing.join(', ')} the cluster's Corefile uses`, 'keep them in clusterCorednsPlugins (tasks/images/coredns-build.ts)');
      return [{ path: '/coredns', content: await readFile(built.path), mode: 0o755 }];
    },
  });
}

// ---- load into nodes -------------------------------------------------------------------------

/** Manifest → config digests of images in the nodes (see probeNodeImageId): read by probes, written by load builds. */
const configCacheFile = (outDir: string): string => join(outDir, 'cache', 'containerd-image-configs.json');

/** One image in one node's containerd. */
export type LoadResult = { ref: string; node: string; container: string; id: string };

/**
 * `load:<image>@<node>`: the image (an image target's archive) in the node's containerd. Skips the
 * transfer when the node already has that image; the probe re-checks the node, so a node recreated since
 * (empty containerd) gets it again, and a rebuilt image is a changed dependency result.
 */
export function loadTarget(imageName: string, ref: string, image: ImageTarget, node: Target<NodeContainer, DepMap>) {
  const nodeName = node.name.replace(/^node:/, '');
  // The node's image listing comes with its batched read of files and units: one exec per node in a no-op run.
  return declareNodeReads(target({
    name: `load:${imageName}@${nodeName}`,
    description: `${ref} in ${nodeName}'s containerd (namespace k8s.io)`,
    deps: { node, image },
    version: 2,
    inputs: { values: { ref } },
    build: async (ctx): Promise<LoadResult> => {
      const where = ctx.deps.node;
      // The build, not the probe, writes the digest cache: probes (and so --dry-run) only read.
      const outcome = await loadImageIntoNode(nodeFleet.of(ctx).node(where.container), ref, {
        images: archiveImages([ctx.deps.image]),
        signal: ctx.signal,
        log: ctx.log,
        configCache: configCacheFile(ctx.outDir),
      });
      return { ref: outcome.ref, node: where.name, container: where.container, id: outcome.id };
    },
    probe: async (result, ctx) => {
      let present: string | undefined;
      try {
        // The listing from the node's batched read; manifest → config digests remembered across runs.
        const fleet = nodeFleet.of(ctx);
        const listed = (await fleet.declared(result.node, result.container)).outputs.get(IMAGE_LISTING_READ);
        present = await probeNodeImageId(readOnlyView(fleet.node(result.container)), result.ref, configCacheFile(ctx.outDir), listed);
      } catch (error) {
        return `cannot check ${result.node}: ${(error as Error).message}`;
      }
      if (present === result.id) return undefined;
      return present ? `${result.node} has ${result.ref} as ${present.slice(7, 19)}, not ${result.id.slice(7, 19)}` : `${result.node} no longer has ${result.ref}`;
    },
  }), { node: nodeName, commands: { [IMAGE_LISTING_READ]: IMAGE_LISTING } });
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
  // A worker of another architecture than the build host's gets the three built for it (`image:pause@arm64`).
  const imagesFor = perArch((arch): [string, string, ImageTarget][] => [
    ['pause', pauseImageFor(config.kubernetesVersion), pauseImageTarget(config, arch)],
    ['echo', TEST_IMAGE, testImageTarget(arch)],
    ['coredns', corednsImageFor(config.kubernetesVersion), corednsImageTarget(config, arch)],
  ]);
  const host = imagesFor(hostArch());
  const [pause, echo, coredns] = host.map(([, , image]) => image) as [ReturnType<typeof pauseImageTarget>, ReturnType<typeof testImageTarget>, ReturnType<typeof corednsImageTarget>];
  const built = new Set<ImageTarget>(host.map(([, , image]) => image));
  const loads: AnyTarget[] = [];
  for (const node of podNodeTargets(config, deps.nodes ?? [])) {
    for (const [name, ref, image] of imagesFor(nodeArch(config, node.name.replace(/^node:/, '')))) {
      built.add(image);
      loads.push(loadTarget(name, ref, image, node));
    }
  }
  const images = alias('images', 'The pause, test and CoreDNS images, built and loaded into every worker node', [...built, ...loads]);
  return { pause, echo, coredns, loads, images, all: [...built, ...loads, images] };
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
