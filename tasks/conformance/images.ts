// The test images the conformance suite runs, built here under the exact names and tags the suite asks
// for (k8s.io/kubernetes test/utils/image/manifest.go), since no registry is reachable. Each stands in for
// the upstream image by doing what the tests need of it; where the upstream image is Alpine, the stand-in is
// the project's Debian base with the same tools from Debian's packages.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { target, type AnyTarget, type DepMap, type Target } from '../../lib/engine/target.ts';
import { connectDocker } from '../../lib/docker/connect.ts';
import { buildImage, inspectImage, removeImage, type ContextFile } from '../../lib/docker/images.ts';
import type { BaseImageTarget } from '../images/node-image.ts';
import type { NodeContainer } from '../nodes/containers.ts';
import { loadImageIntoNode, normalizeImageRef, probeNodeImageId } from '../../lib/docker/load-image.ts';
import { readOnlyView } from '../../lib/node/handle.ts';
import { downloadVerified } from '../../lib/download.ts';
import { cachePath } from '../../lib/cache-root.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import type { SuiteBinaryResult } from './e2e-build.ts';

const E2E_REGISTRY = 'registry.k8s.io/e2e-test-images';
const LABEL = 'harder.e2e-image';

/** One stand-in image and every tag the suite knows it by (two tags of one image are one build and one ID). */
export type E2eImageSpec = { name: string; tags: readonly [string, ...string[]]; describe: string };

/** The stand-ins, by the name used in target names. Tags are manifest.go's for Kubernetes v1.34. */
export const E2E_IMAGES = {
  agnhost: { name: 'agnhost', tags: [`${E2E_REGISTRY}/agnhost:2.56`], describe: 'agnhost (built from the module) with dig, curl, nc, ip, iperf and bash from Debian, as upstream has from Alpine' },
  busybox: { name: 'busybox', tags: [`${E2E_REGISTRY}/busybox:1.37.0-1`], describe: 'upstream busybox 1.37 (built from its release) on Debian, its ash as sh: it keeps environment variables whose names hold a dash, as the tests need' },
  httpd: { name: 'httpd', tags: [`${E2E_REGISTRY}/httpd:2.4.38-4`, `${E2E_REGISTRY}/httpd:2.4.39-4`], describe: 'an HTTP server on port 80 serving /usr/local/apache2/htdocs (busybox httpd)' },
  nginx: { name: 'nginx', tags: [`${E2E_REGISTRY}/nginx:1.14-4`, `${E2E_REGISTRY}/nginx:1.15-4`], describe: "Debian's nginx on port 80, in the foreground" },
  dnsutils: { name: 'jessie-dnsutils', tags: [`${E2E_REGISTRY}/jessie-dnsutils:1.7`], describe: 'dig, nslookup and a shell, from Debian' },
  kitten: { name: 'kitten', tags: [`${E2E_REGISTRY}/kitten:1.7`], describe: "upstream's recipe: agnhost test-webserver serving the module's kitten.jpg and data.json" },
  nautilus: { name: 'nautilus', tags: [`${E2E_REGISTRY}/nautilus:1.7`], describe: "upstream's recipe: agnhost test-webserver serving the module's nautilus.jpg and data.json" },
  sampleApiserver: { name: 'sample-apiserver', tags: [`${E2E_REGISTRY}/sample-apiserver:1.29.2`], describe: 'k8s.io/sample-apiserver (the wardle aggregated API) built from the module, as upstream builds it' },
  etcd: { name: 'etcd', tags: ['registry.k8s.io/etcd:3.6.4-0'], describe: "Debian's etcd-server at /usr/local/bin/etcd, the etcd the aggregator test's sample API server stores in" },
  nonewprivs: { name: 'nonewprivs', tags: [`${E2E_REGISTRY}/nonewprivs:1.3`], describe: "upstream's recipe on Debian: the module's nnp (prints its effective uid) setuid root at /usr/local/bin/nnp" },
} as const satisfies Record<string, E2eImageSpec>;

export type E2eImageKey = keyof typeof E2E_IMAGES;

/**
 * What each stand-in is built from besides the base image: the stand-in its Dockerfile starts FROM, and the
 * suite binary it takes (kitten and nautilus take only the module's files, found beside agnhost's build).
 */
export const STAND_IN_INPUTS: Record<E2eImageKey, { from?: E2eImageKey; binary?: 'agnhost' | 'sampleApiserver' | 'nonewprivs' }> = {
  agnhost: { binary: 'agnhost' },
  busybox: {},
  httpd: { from: 'busybox' },
  nginx: {},
  dnsutils: {},
  kitten: { from: 'agnhost', binary: 'agnhost' },
  nautilus: { from: 'agnhost', binary: 'agnhost' },
  sampleApiserver: { binary: 'sampleApiserver' },
  etcd: {},
  nonewprivs: { binary: 'nonewprivs' },
};

/** busybox's upstream release tarball, as Debian's archive mirrors it (the orig tarball is upstream's file, unpatched). */
const BUSYBOX_SOURCE = {
  version: '1.37.0',
  file: 'busybox-1.37.0.tar.bz2',
  url: 'http://deb.debian.org/debian/pool/main/b/busybox/busybox_1.37.0.orig.tar.bz2',
  sha256: '3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4',
};

const APT = (packages: string[]) =>
  `RUN rm -f /etc/apt/sources.list && printf 'Types: deb\\nURIs: http://deb.debian.org/debian\\nSuites: bookworm\\nComponents: main\\n' > /etc/apt/sources.list.d/debian.sources \\\n` +
  ` && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')} \\\n` +
  ' && apt-get clean && rm -rf /var/lib/apt/lists/*';

/** The Dockerfile and files of each stand-in (agnhost's binary and certificate are added at build time). `BASE` is the project's Debian base image ID. */
export function recipeContext(name: E2eImageKey): ContextFile[] {
  const dockerfile = (lines: string[]): ContextFile => ({ path: 'Dockerfile', content: `${lines.join('\n')}\n` });
  switch (name) {
    case 'agnhost': {
      return [
        // Upstream's test/images/agnhost/Dockerfile, on Debian: the same tools, files, users and entrypoint.
        dockerfile([
          'ARG BASE',
          'FROM ${BASE}',
          APT(['dnsutils', 'curl', 'netcat-openbsd', 'iproute2', 'iperf', 'bash', 'ca-certificates']),
          'RUN ln -s /usr/bin/iperf /usr/local/bin/iperf && mkdir /uploads',
          'COPY localhost.crt localhost.key /',
          'COPY agnhost /agnhost',
          'RUN ln -s agnhost /agnhost-2',
          'RUN groupadd -g 50000 group-defined-in-image && useradd -u 1000 -M -s /bin/sh user-defined-in-image && usermod -aG group-defined-in-image user-defined-in-image',
          'WORKDIR /',
          'EXPOSE 80 8080 8081 9376 5000',
          'ENTRYPOINT ["/agnhost"]',
          'CMD ["pause"]',
        ]),
      ];
    }
    case 'busybox':
      return [
        dockerfile([
          'ARG BASE',
          // Upstream busybox 1.37, built from its release tarball: Debian's busybox (1.35 and 1.37 alike) carries a
          // patch that makes ash drop environment variables whose names are not shell identifiers (`a-b`) at
          // start-up, which the ConfigMap and Secret env tests read back with `sh -c env`; upstream's ash keeps them.
          'FROM ${BASE} AS build',
          APT(['gcc', 'libc6-dev', 'make', 'bzip2']),
          `COPY ${BUSYBOX_SOURCE.file} /src/`,
          `RUN cd /src && tar xjf ${BUSYBOX_SOURCE.file} && cd busybox-${BUSYBOX_SOURCE.version} && make defconfig >/dev/null \\`,
          // Static, so the binary needs nothing of the image; tc is left out (it does not build against every kernel's headers).
          " && sed -i -e 's/^# CONFIG_STATIC is not set/CONFIG_STATIC=y/' -e 's/^CONFIG_TC=y/# CONFIG_TC is not set/' .config \\",
          ' && { make -j"$(nproc)" busybox >/tmp/make.log 2>&1 || { tail -40 /tmp/make.log; exit 1; }; } && ./busybox --help | head -1',
          'FROM ${BASE}',
          `COPY --from=build /src/busybox-${BUSYBOX_SOURCE.version}/busybox /bin/busybox`,
          // Every applet Debian does not already provide (httpd, nc, wget, nslookup, ...), as busybox.
          'RUN for a in $(busybox --list); do command -v "$a" >/dev/null || ln -s /bin/busybox "/usr/local/bin/$a"; done',
          // The Sysctls test runs /bin/sysctl by its path, where upstream's busybox has the applet; Debian's base has no procps.
          'RUN [ -e /bin/sysctl ] || ln -s /bin/busybox /bin/sysctl',
          // sh is busybox's ash, as in upstream's image: the env tests need its handling of names (above), and the
          // read-only root filesystem test expects ash's own words ("/bin/sh: can't create /file: Read-only file system").
          'RUN ln -sf busybox /bin/sh',
          'CMD ["sh"]',
        ]),
      ];
    case 'httpd':
      return [
        { path: 'index.html', content: '<html><body><h1>It works!</h1></body></html>\n' },
        dockerfile([
          'ARG FROM_IMAGE',
          'FROM ${FROM_IMAGE}',
          'COPY index.html /usr/local/apache2/htdocs/index.html',
          'EXPOSE 80',
          'CMD ["httpd", "-f", "-p", "80", "-h", "/usr/local/apache2/htdocs"]',
        ]),
      ];
    case 'nginx':
      return [
        dockerfile([
          'ARG BASE',
          'FROM ${BASE}',
          APT(['nginx-light']),
          // Logs to the container's output, as upstream's image does.
          'RUN ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log',
          'EXPOSE 80',
          'STOPSIGNAL SIGQUIT',
          'CMD ["nginx", "-g", "daemon off;"]',
        ]),
      ];
    case 'dnsutils':
      return [dockerfile(['ARG BASE', 'FROM ${BASE}', APT(['dnsutils', 'iputils-ping', 'curl', 'netcat-openbsd']), 'CMD ["sh"]'])];
    case 'kitten':
    case 'nautilus':
      // test/images/<name>/Dockerfile: FROM agnhost, two files, test-webserver.
      return [dockerfile(['ARG FROM_IMAGE', 'FROM ${FROM_IMAGE}', `COPY ${name}.jpg ${name}.jpg`, 'COPY data.json data.json', 'CMD ["test-webserver"]'])];
    case 'sampleApiserver':
      return [dockerfile(['ARG BASE', 'FROM ${BASE}', 'COPY sample-apiserver /sample-apiserver', 'ENTRYPOINT ["/sample-apiserver"]'])];
    case 'etcd':
      return [dockerfile(['ARG BASE', 'FROM ${BASE}', APT(['etcd-server']), 'RUN ln -s /usr/bin/etcd /usr/local/bin/etcd'])];
    case 'nonewprivs':
      // test/images/nonewprivs/Dockerfile: setuid root, so run as another user it reports uid 0 unless
      // no_new_privs (allowPrivilegeEscalation: false) keeps the setuid bit from taking effect.
      return [dockerfile(['ARG BASE', 'FROM ${BASE}', 'COPY nnp /usr/local/bin/nnp', 'RUN chmod +s /usr/local/bin/nnp', 'CMD ["nnp"]'])];
  }
}

/** The build context: the recipe, plus the built binary and the module's files the image takes. */
async function imageContext(name: E2eImageKey, binary: SuiteBinaryResult | undefined): Promise<ContextFile[]> {
  const files = recipeContext(name);
  const needs = (what: string): SuiteBinaryResult => {
    if (!binary) throw new Error(`the ${E2E_IMAGES[name].name} image needs ${what}`);
    return binary;
  };
  const moduleFile = async (path: string, as: string): Promise<ContextFile> => ({ path: as, content: await readFile(join(needs('the module source').moduleDir, path)) });
  switch (name) {
    case 'agnhost':
      return [
        ...files,
        { path: 'agnhost', content: await readFile(needs('the agnhost binary').path), mode: 0o755 },
        await moduleFile('test/images/agnhost/porter/localhost.crt', 'localhost.crt'),
        await moduleFile('test/images/agnhost/porter/localhost.key', 'localhost.key'),
      ];
    case 'kitten':
    case 'nautilus':
      return [...files, await moduleFile(`test/images/${name}/html/${name}.jpg`, `${name}.jpg`), await moduleFile(`test/images/${name}/html/data.json`, 'data.json')];
    case 'sampleApiserver':
      return [...files, { path: 'sample-apiserver', content: await readFile(needs('the sample-apiserver binary').path), mode: 0o755 }];
    case 'busybox': {
      const source = await downloadVerified({ url: BUSYBOX_SOURCE.url, dest: cachePath('downloads', BUSYBOX_SOURCE.file), expected: { algorithm: 'sha256', hex: BUSYBOX_SOURCE.sha256 } });
      return [...files, { path: BUSYBOX_SOURCE.file, content: await readFile(source.path) }];
    }
    case 'nonewprivs':
      return [...files, { path: 'nnp', content: await readFile(needs('the nnp binary').path), mode: 0o755 }];
    default:
      return files;
  }
}

/** What keys an image target: its recipe's files (the agnhost binary is a dependency's result). */
function recipeHash(name: E2eImageKey): string {
  const hash = createHash('sha256');
  for (const file of recipeContext(name)) hash.update(`${file.path}\0${file.mode ?? ''}\0${file.content.toString()}\0`);
  if (name === 'busybox') hash.update(`source\0${BUSYBOX_SOURCE.sha256}\0`);
  return hash.digest('hex');
}

/** Every tag still points at the image this target built (its result: the Docker image ID). */
async function probeTags(tags: readonly string[], id: string): Promise<string | undefined> {
  for (const tag of tags) {
    const info = await inspectImage(undefined, tag);
    if (!info) return `image ${tag} is gone from Docker`;
    if (info.id !== id) return `${tag} now points to ${info.id.slice(7, 19)}, not ${id.slice(7, 19)}`;
  }
  return undefined;
}

/** An image target (its deps differ per image, hence `any`, as for BaseImageTarget). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type E2eImageTarget = Target<string, any>;

/**
 * Builds one stand-in from its recipe on the base image (`fromId`: the stand-in it starts FROM) under `tags`;
 * `cache: false` builds every layer anew (bench/conformance.ts measures the cold cost that way, under its own tags).
 */
export async function buildStandIn(
  key: E2eImageKey,
  o: { baseId: string; binary?: SuiteBinaryResult; fromId?: string; tags: string[]; labels?: Record<string, string>; cache?: boolean; log: (line: string) => void; signal?: AbortSignal },
): Promise<string> {
  const context = await imageContext(key, o.binary);
  const buildArgs: Record<string, string> = { BASE: o.baseId, ...(o.fromId ? { FROM_IMAGE: o.fromId } : {}) };
  const docker = await connectDocker();
  const onProgress = (line: string) => void (/^(Step \d|Successfully tagged)/.test(line) && o.log(line));
  return buildImage(docker, { tags: o.tags, context, buildArgs, ...(o.labels ? { labels: o.labels } : {}), ...(o.cache === false ? { cache: false } : {}), onProgress, ...(o.signal ? { signal: o.signal } : {}) });
}

/** `binary`: the suite binary (or, for its module files, any of them) the image takes; `from`: the stand-in it is built on. */
function imageTarget(key: keyof typeof E2E_IMAGES, deps: { base: BaseImageTarget; binary?: Target<SuiteBinaryResult>; from?: E2eImageTarget }): E2eImageTarget {
  const spec: E2eImageSpec = E2E_IMAGES[key];
  const targetDeps: DepMap = { base: deps.base, ...(deps.binary ? { binary: deps.binary } : {}), ...(deps.from ? { from: deps.from } : {}) };
  return target({
    name: `image:e2e-${spec.name}`,
    description: `${spec.tags.join(', ')}: ${spec.describe}`,
    deps: targetDeps as { base: BaseImageTarget; binary?: Target<SuiteBinaryResult>; from?: E2eImageTarget },
    version: 1,
    inputs: { values: { tags: [...spec.tags], recipe: recipeHash(key) } },
    build: async (ctx): Promise<string> =>
      buildStandIn(key, { baseId: ctx.deps.base.id, binary: ctx.deps.binary, fromId: ctx.deps.from, tags: [...spec.tags], labels: { [LABEL]: spec.name }, log: ctx.log, signal: ctx.signal }),
    probe: async (id) => probeTags(spec.tags, id),
    clean: async () => {
      const docker = await connectDocker();
      for (const tag of spec.tags) if ((await inspectImage(docker, tag))?.labels[LABEL]) await removeImage(docker, tag);
    },
  });
}

type TagsLoaded = { id: string; container: string; refs: string[] };

/** Manifest → config digests of node images (the same cache file as the cluster images' loads). */
const configCacheFile = (outDir: string): string => join(outDir, 'cache', 'containerd-image-configs.json');

/**
 * `load:e2e-<image>@<worker>`: the image in the worker's containerd under every tag the suite uses. The
 * image travels once (under its first tag); the other tags are containerd names for the same image.
 */
function loadAllTags(spec: E2eImageSpec, image: E2eImageTarget, node: Target<NodeContainer, DepMap>, runtime: AnyTarget | undefined) {
  const nodeName = node.name.replace(/^node:/, '');
  const [first, ...others] = spec.tags as readonly [string, ...string[]];
  return target({
    name: `load:e2e-${spec.name}@${nodeName}`,
    description: `${spec.tags.join(', ')} in ${nodeName}'s containerd (namespace k8s.io)`,
    deps: { node, image, ...(runtime ? { runtime } : {}) } as { node: Target<NodeContainer, DepMap>; image: E2eImageTarget },
    version: 1,
    inputs: { values: { tags: [...spec.tags] } },
    build: async (ctx): Promise<TagsLoaded> => {
      const handle = nodeFleet.of(ctx).node(ctx.deps.node.container);
      const outcome = await loadImageIntoNode(handle, first, { signal: ctx.signal, log: ctx.log, configCache: configCacheFile(ctx.outDir) });
      for (const tag of others) {
        await handle.exec(['ctr', '-n', 'k8s.io', 'images', 'tag', '--force', normalizeImageRef(first), normalizeImageRef(tag)], { signal: ctx.signal });
        ctx.log(`${nodeName}: tagged ${normalizeImageRef(tag)} (same image as ${normalizeImageRef(first)})`);
      }
      return { id: outcome.id, container: ctx.deps.node.container, refs: spec.tags.map(normalizeImageRef) };
    },
    probe: async (result: TagsLoaded, ctx) => {
      if (result.id !== (await inspectImage(undefined, first))?.id) return `Docker's ${first} is no longer ${result.id.slice(7, 19)}`;
      const view = readOnlyView(nodeFleet.of(ctx).node(result.container));
      for (const ref of result.refs) {
        const present = await probeNodeImageId(view, ref, configCacheFile(ctx.outDir)).catch(() => undefined);
        if (present !== result.id) return `${nodeName} ${present ? `has ${ref} as ${present.slice(7, 19)}` : `no longer has ${ref}`}`;
      }
      return undefined;
    },
  });
}

/** The image targets and one load per image and worker (after that worker's containerd unit, like the cluster images). */
export function e2eImageTargets(deps: { base: BaseImageTarget; agnhost: Target<SuiteBinaryResult>; sampleApiserver: Target<SuiteBinaryResult>; nonewprivs: Target<SuiteBinaryResult>; nodes: Target<NodeContainer, DepMap>[]; runtimeOf: (node: string) => AnyTarget | undefined }) {
  const binaries = { agnhost: deps.agnhost, sampleApiserver: deps.sampleApiserver, nonewprivs: deps.nonewprivs };
  const byKey = new Map<E2eImageKey, E2eImageTarget>();
  const built: [E2eImageSpec, E2eImageTarget][] = [];
  // E2E_IMAGES lists every stand-in after the one it starts FROM.
  for (const key of Object.keys(E2E_IMAGES) as E2eImageKey[]) {
    const { from, binary } = STAND_IN_INPUTS[key];
    const image = imageTarget(key, { base: deps.base, ...(binary ? { binary: binaries[binary] } : {}), ...(from ? { from: byKey.get(from)! } : {}) });
    byKey.set(key, image);
    built.push([E2E_IMAGES[key], image]);
  }
  const images = built.map(([, image]) => image);
  const loads: AnyTarget[] = [];
  for (const node of deps.nodes) for (const [spec, image] of built) loads.push(loadAllTags(spec, image, node, deps.runtimeOf(node.name.replace(/^node:/, ''))) as AnyTarget);
  return { images, loads, all: [...images, ...loads] };
}
