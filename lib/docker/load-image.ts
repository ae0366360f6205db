// Loads a local Docker image into a node's containerd (what `kind load docker-image` does): streams
// `docker save` into `ctr images import -` on the node, skipping nodes that already hold the same image.

import type Dockerode from 'dockerode';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { connectDocker } from './connect.ts';
import { DockerError, engineMessage } from './errors.ts';
import { inspectImage } from './images.ts';
import type { NodeHandle } from './node-access.ts';

/** The containerd namespace the CRI plugin (and so kubelet) reads images from. */
export const CRI_NAMESPACE = 'k8s.io';

// Docker's reference grammar (github.com/distribution/reference): [domain[:port]/]path[:tag][@digest].
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE_REF = new RegExp(
  `^(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?/)?${PATH_PART}(?:/${PATH_PART})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

/** Why `ref` is not a Docker image reference (`name[:tag][@digest]`), or undefined when it is one. */
export function imageRefProblem(ref: string): string | undefined {
  if (ref.trim() === '') return `the image name is empty (${JSON.stringify(ref)})`;
  if (IMAGE_REF.test(ref)) return undefined;
  if (IMAGE_REF.test(ref.toLowerCase())) return `"${ref}" is not an image reference: repository names are lowercase`;
  return `"${ref}" is not an image reference`;
}

/**
 * The name containerd gives an image that Docker calls `ref`: Docker Hub names get their implicit
 * `docker.io/` (and `library/`) prefix, and a missing tag becomes `latest`.
 */
export function normalizeImageRef(ref: string): string {
  let name = ref;
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const hasDomain = slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) name = `docker.io/${slash === -1 ? `library/${name}` : name}`;
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  if (!lastPart.includes(':') && !lastPart.includes('@')) name += ':latest';
  return name;
}

type Descriptor = { mediaType?: string; digest: string; platform?: { architecture?: string; os?: string } };

/** Rows of `ctr images ls` output: containerd's image name → manifest (or index) digest. */
function parseImageList(stdout: string): Map<string, string> {
  const digests = new Map<string, string>();
  for (const line of stdout.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const digest = cols.find((col) => /^sha256:[0-9a-f]{64}$/.test(col));
    if (cols[0] && digest) digests.set(cols[0], digest);
  }
  return digests;
}

/**
 * The config digest (= Docker's image ID) of image `ref` in the node's containerd, or undefined when the
 * node does not have it. Reads the image's manifest (through an index when it is one) with `ctr content get`.
 */
export async function nodeImageId(node: NodeHandle, ref: string, signal?: AbortSignal): Promise<string | undefined> {
  return (await nodeImage(node, ref, signal))?.config;
}

/** The manifest (or index) digest containerd lists for `ref` in the node, and the config digest it leads to. */
async function nodeImage(node: NodeHandle, ref: string, signal?: AbortSignal): Promise<{ digest: string; config: string | undefined } | undefined> {
  const name = normalizeImageRef(ref);
  const ls = await node.exec(['ctr', '-n', CRI_NAMESPACE, 'images', 'ls', `name==${name}`], { signal });
  const digest = parseImageList(ls.stdout.toString('utf8')).get(name);
  return digest ? { digest, config: await configDigestOf(node, digest, signal) } : undefined;
}

/** The config digest a manifest (or index) digest leads to, read from the node's content store. */
async function configDigestOf(node: NodeHandle, digest: string, signal?: AbortSignal): Promise<string | undefined> {
  let manifest = await readJsonBlob(node, digest, signal);
  for (let depth = 0; manifest && Array.isArray(manifest.manifests) && depth < 3; depth++) {
    // An index: pick this machine's platform (nodes run on the host's architecture), else the first.
    const entries = manifest.manifests as Descriptor[];
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const chosen = entries.find((m) => m.platform?.architecture === arch && (m.platform.os ?? 'linux') === 'linux') ?? entries[0];
    manifest = chosen ? await readJsonBlob(node, chosen.digest, signal) : undefined;
  }
  const config = manifest?.config as Descriptor | undefined;
  return config?.digest;
}

/** One `ctr images ls` per node, shared by the probes of that node within a moment. */
const listings = new Map<string, { at: number; value: Promise<Map<string, string>> }>();
const LISTING_MS = 3000;

function nodeImageDigests(node: NodeHandle): Promise<Map<string, string>> {
  const hit = listings.get(node.name);
  if (hit && performance.now() - hit.at < LISTING_MS) return hit.value;
  const value = node.exec(['ctr', '-n', CRI_NAMESPACE, 'images', 'ls']).then((ls) => parseImageList(ls.stdout.toString('utf8')));
  listings.set(node.name, { at: performance.now(), value });
  value.catch(() => listings.delete(node.name));
  return value;
}

/**
 * Manifest digest → config digest, remembered across runs in `cacheFile`. A manifest is
 * content-addressed, so the config digest it names can never change: the cache needs no invalidation,
 * and a lost or torn file only costs the `ctr content get` reads again. Probes only read the file (a
 * dry run writes nothing): what a probe resolves is kept in memory, and written with the next load's
 * build (loadImageIntoNode with `configCache`), which also records the image it loaded.
 */
const configCaches = new Map<string, Map<string, string>>();

function configCache(cacheFile: string): Map<string, string> {
  let cache = configCaches.get(cacheFile);
  if (!cache) {
    cache = new Map();
    try {
      const data = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, unknown>;
      for (const [digest, config] of Object.entries(data)) if (typeof config === 'string') cache.set(digest, config);
    } catch {
      /* missing or unreadable: start empty */
    }
    configCaches.set(cacheFile, cache);
  }
  return cache;
}

/**
 * nodeImageId for probes: the node's image list is read once per node and shared by every probe of
 * that node, and the config digest comes from `cacheFile` when this manifest was resolved before.
 * A no-op run then costs one exec per node instead of two or three per (image, node).
 */
export async function probeNodeImageId(node: NodeHandle, ref: string, cacheFile: string): Promise<string | undefined> {
  const digest = (await nodeImageDigests(node)).get(normalizeImageRef(ref));
  if (!digest) return undefined;
  const cache = configCache(cacheFile);
  const known = cache.get(digest);
  if (known) return known;
  const config = await configDigestOf(node, digest);
  if (config) cache.set(digest, config);
  return config;
}

/** Records manifest `digest` → `config` in `cacheFile`, with what this process's probes resolved (builds only). */
function saveConfigCache(cacheFile: string, digest: string, config: string): void {
  const cache = configCache(cacheFile);
  cache.set(digest, config);
  mkdirSync(dirname(cacheFile), { recursive: true });
  const temp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(Object.fromEntries(cache)));
  renameSync(temp, cacheFile);
}

async function readJsonBlob(node: NodeHandle, digest: string, signal?: AbortSignal): Promise<Record<string, unknown> | undefined> {
  const result = await node.exec(['ctr', '-n', CRI_NAMESPACE, 'content', 'get', digest], { signal, allowFailure: true });
  if (result.exitCode !== 0) return undefined; // content missing (e.g. garbage-collected): treat as absent
  try {
    return JSON.parse(result.stdout.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export type LoadOutcome = {
  /** containerd's name for the image. */
  ref: string;
  /** Docker's image ID, which is also the config digest in containerd. */
  id: string;
  /** True when the node already had the image and nothing was transferred. */
  skipped: boolean;
};

/**
 * Makes the node's containerd (namespace k8s.io) hold Docker image `ref` exactly as Docker has it now.
 * Skips the transfer when the node already has the same image ID under that name. With `configCache`,
 * records the image's manifest → config digest there for probeNodeImageId (and what probes resolved).
 */
export async function loadImageIntoNode(
  node: NodeHandle,
  ref: string,
  options: { docker?: Dockerode; signal?: AbortSignal; log?: (line: string) => void; configCache?: string } = {},
): Promise<LoadOutcome> {
  const docker = options.docker ?? (await connectDocker());
  const local = await inspectImage(docker, ref);
  if (!local) throw new DockerError(`Docker has no image ${ref}`, `build or pull it first (docker images lists what there is)`);
  const name = normalizeImageRef(ref);
  // Later probes of this node must not trust a listing read before this load.
  listings.delete(node.name);
  const found = await nodeImage(node, ref, options.signal);
  const present = found?.config;
  if (present === local.id) {
    if (options.configCache) saveConfigCache(options.configCache, found!.digest, local.id);
    options.log?.(`${node.name}: already has ${name} (${local.id.slice(7, 19)}), skipped`);
    return { ref: name, id: local.id, skipped: true };
  }
  options.log?.(`${node.name}: importing ${name} (${local.id.slice(7, 19)})${present ? `, replacing ${present.slice(7, 19)}` : ''}`);
  let save: NodeJS.ReadableStream;
  try {
    save = await docker.getImage(ref).get();
  } catch (error) {
    throw new DockerError(`docker save ${ref} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
  await node.exec(['ctr', '-n', CRI_NAMESPACE, 'images', 'import', '-'], { stdin: save, signal: options.signal });
  listings.delete(node.name);
  const loaded = await nodeImage(node, ref, options.signal);
  const after = loaded?.config;
  if (after !== local.id) {
    throw new DockerError(
      `${node.name}: after importing ${name}, containerd reports ${after ?? 'no such image'} instead of ${local.id}`,
      `inspect with \`docker exec ${node.name} ctr -n ${CRI_NAMESPACE} images ls\``,
    );
  }
  if (options.configCache) saveConfigCache(options.configCache, loaded!.digest, local.id);
  return { ref: name, id: local.id, skipped: false };
}
