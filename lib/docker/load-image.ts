// Loads a local Docker image into a node's containerd (what `kind load docker-image` does): streams
// `docker save` into `ctr images import -` on the node, skipping nodes that already hold the same image.

import type Dockerode from 'dockerode';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { connectDocker } from './connect.ts';
import { DockerError, engineMessage } from './errors.ts';
import { inspectImage } from './images.ts';
import type { NodeHandle } from './node-access.ts';
import { hostArch } from '../host-arch.ts';

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
    const arch = hostArch();
    const chosen = entries.find((m) => m.platform?.architecture === arch && (m.platform.os ?? 'linux') === 'linux') ?? entries[0];
    manifest = chosen ? await readJsonBlob(node, chosen.digest, signal) : undefined;
  }
  const config = manifest?.config as Descriptor | undefined;
  return config?.digest;
}

/** One `ctr images ls` per node, shared by the probes of that node within a moment. */
const listings = new Map<string, { at: number; value: Promise<Map<string, string>> }>();
const LISTING_MS = 3000;

/** The listing of every image in a node's containerd: a probe's read (declare it in a node's batched read as IMAGE_LISTING_READ). */
export const IMAGE_LISTING: readonly string[] = ['ctr', '-n', CRI_NAMESPACE, 'images', 'ls'];
/** The name IMAGE_LISTING goes by in a node's batched read (NodeReads.commands). */
export const IMAGE_LISTING_READ = 'containerd-images';

function nodeImageDigests(node: NodeHandle): Promise<Map<string, string>> {
  const hit = listings.get(node.name);
  if (hit && performance.now() - hit.at < LISTING_MS) return hit.value;
  const value = node.exec([...IMAGE_LISTING]).then((ls) => parseImageList(ls.stdout.toString('utf8')));
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
 * that node (`listed`: as the node's batched read returned it, costing no exec of its own), and the
 * config digest comes from `cacheFile` when this manifest was resolved before. A no-op run then costs
 * no exec per (image, node).
 */
export async function probeNodeImageId(node: NodeHandle, ref: string, cacheFile: string, listed?: string): Promise<string | undefined> {
  // The node's batched read may carry the listing already (IMAGE_LISTING_READ); else one exec shared by the node's probes.
  const digests = listed !== undefined ? parseImageList(listed) : await nodeImageDigests(node);
  const digest = digests.get(normalizeImageRef(ref));
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
  /** True when the node already had the image under this name and nothing was done. */
  skipped: boolean;
  /** True when the node had the image under another name: it was tagged, not imported. */
  tagged?: boolean;
};

/** The local side of a load: Docker's image IDs and `docker save` (injectable, so tests need no Docker). */
export type LocalImages = {
  /** Docker's image ID for `ref`, or undefined when Docker has no such image. */
  id(ref: string): Promise<string | undefined>;
  /** One `docker save` stream holding all of `refs`. */
  save(refs: string[], signal?: AbortSignal): Promise<NodeJS.ReadableStream>;
};

/** LocalImages of the Docker engine. */
export function dockerImages(docker?: Dockerode): LocalImages {
  let client: Promise<Dockerode> | undefined;
  const connect = () => (client ??= docker ? Promise.resolve(docker) : connectDocker());
  return {
    // Without a given client, the light engine client inspects: a load that transfers nothing never loads dockerode.
    id: async (ref) => (await inspectImage(docker, ref))?.id,
    save: async (refs, signal) => {
      try {
        // GET /images/get?names=a&names=b: one archive, shared layers written once.
        // dockerode has getImages (several names in one save) but its types do not declare it.
        const client = (await connect()) as unknown as { getImages(opts: { names: string[]; abortSignal?: AbortSignal }): Promise<NodeJS.ReadableStream> };
        return await client.getImages({ names: refs, abortSignal: signal });
      } catch (error) {
        throw new DockerError(`docker save ${refs.join(' ')} failed: ${engineMessage(error)}`, undefined, { cause: error });
      }
    },
  };
}

/**
 * Makes the node's containerd (namespace k8s.io) hold each Docker image of `refs` under its name exactly
 * as Docker has it now, as `kind load` does: a name already on the node with the same image ID is
 * skipped; an image ID the node holds under another name (or that two of `refs` share) is imported at
 * most once and every further name is added with `ctr images tag`; every image still missing goes in ONE
 * `docker save` stream to one `ctr images import`. With `configCache`, records each image's manifest →
 * config digest there for probeNodeImageId (and what probes resolved).
 */
export async function loadImagesIntoNode(
  node: NodeHandle,
  refs: string[],
  options: { images?: LocalImages; signal?: AbortSignal; log?: (line: string) => void; configCache?: string } = {},
): Promise<LoadOutcome[]> {
  const images = options.images ?? dockerImages();
  const { signal } = options;
  const log = options.log ?? (() => {});
  const wanted: { ref: string; name: string; id: string }[] = [];
  // Later probes of this node must not trust a listing read before this load (even one that fails below).
  listings.delete(node.name);
  const ids = await Promise.all(refs.map((ref) => images.id(ref)));
  for (const [i, ref] of refs.entries()) {
    const id = ids[i];
    if (!id) throw new DockerError(`Docker has no image ${ref}`, `build or pull it first (docker images lists what there is)`);
    if (!wanted.some((w) => w.name === normalizeImageRef(ref))) wanted.push({ ref, name: normalizeImageRef(ref), id });
  }
  const view = await nodeView(node, signal, options.configCache);
  const outcomes = new Map<string, LoadOutcome>();
  const present = await Promise.all(wanted.map((w) => view.configOf(w.name)));
  for (const [i, w] of wanted.entries()) {
    if (present[i] === w.id) {
      outcomes.set(w.name, { ref: w.name, id: w.id, skipped: true });
      log(`${node.name}: already has ${w.name} (${w.id.slice(7, 19)}), skipped`);
    }
  }
  const missing = wanted.filter((w) => !outcomes.has(w.name));
  // An image ID the node already holds under some name is tagged from it; the rest are imported, one name per ID.
  const sources = new Map<string, string>();
  for (const id of new Set(missing.map((w) => w.id))) {
    const source = await view.nameWithId(id);
    if (source) sources.set(id, source);
  }
  // The first name asked for per ID is imported; the others are tagged from it.
  const toImport = missing.filter((w, i) => !sources.has(w.id) && missing.findIndex((o) => o.id === w.id) === i);
  if (toImport.length) {
    log(`${node.name}: importing ${toImport.map((w) => `${w.name} (${w.id.slice(7, 19)})`).join(', ')} in one stream`);
    const stream = await images.save(toImport.map((w) => w.ref), signal);
    await node.exec(['ctr', '-n', CRI_NAMESPACE, 'images', 'import', '-'], { stdin: stream, signal });
    for (const w of toImport) {
      sources.set(w.id, w.name);
      outcomes.set(w.name, { ref: w.name, id: w.id, skipped: false });
    }
  }
  for (const w of missing) {
    if (outcomes.has(w.name)) continue;
    const source = sources.get(w.id)!;
    log(`${node.name}: ${w.name} is ${w.id.slice(7, 19)}, already there as ${source}: tagged, not imported`);
    await node.exec(['ctr', '-n', CRI_NAMESPACE, 'images', 'tag', '--force', source, w.name], { signal });
    outcomes.set(w.name, { ref: w.name, id: w.id, skipped: false, tagged: true });
  }
  listings.delete(node.name);
  if (missing.length) {
    const after = await nodeView(node, signal, options.configCache);
    const got = await Promise.all(missing.map((w) => after.configOf(w.name)));
    for (const [i, w] of missing.entries()) {
      if (got[i] !== w.id) {
        throw new DockerError(
          `${node.name}: after loading ${w.name}, containerd reports ${got[i] ?? 'no such image'} instead of ${w.id}`,
          `inspect with \`docker exec ${node.name} ctr -n ${CRI_NAMESPACE} images ls\``,
        );
      }
    }
    if (options.configCache) for (const w of wanted) after.record(options.configCache, w.name, w.id);
  } else if (options.configCache) {
    for (const w of wanted) view.record(options.configCache, w.name, w.id);
  }
  return wanted.map((w) => outcomes.get(w.name)!);
}

/** One image into one node: loadImagesIntoNode with one reference. */
export async function loadImageIntoNode(
  node: NodeHandle,
  ref: string,
  options: { docker?: Dockerode; images?: LocalImages; signal?: AbortSignal; log?: (line: string) => void; configCache?: string } = {},
): Promise<LoadOutcome> {
  const images = options.images ?? dockerImages(options.docker);
  return (await loadImagesIntoNode(node, [ref], { ...options, images }))[0]!;
}

/**
 * What the node's containerd holds, read once: name → manifest digest from one `ctr images ls`, and
 * config digests resolved on demand: from `cacheFile` when this manifest was resolved before (a second
 * load of the same images reads no content), else each manifest read at most once per view.
 */
async function nodeView(node: NodeHandle, signal?: AbortSignal, cacheFile?: string) {
  const ls = await node.exec(['ctr', '-n', CRI_NAMESPACE, 'images', 'ls'], { signal });
  const digests = parseImageList(ls.stdout.toString('utf8'));
  const configs = new Map<string, Promise<string | undefined>>();
  const configOfDigest = (digest: string) => {
    let config = configs.get(digest);
    const known = cacheFile ? configCache(cacheFile).get(digest) : undefined;
    if (!config) configs.set(digest, (config = known ? Promise.resolve(known) : configDigestOf(node, digest, signal)));
    return config;
  };
  return {
    configOf: async (name: string) => {
      const digest = digests.get(name);
      return digest ? configOfDigest(digest) : undefined;
    },
    /** A name the node holds image `id` under (digest-only names, `name@sha256:…`, are not tag sources). */
    nameWithId: async (id: string) => {
      for (const [name, digest] of digests) if (!name.includes('@') && (await configOfDigest(digest)) === id) return name;
      return undefined;
    },
    record: (cacheFile: string, name: string, id: string) => {
      const digest = digests.get(name);
      if (digest) saveConfigCache(cacheFile, digest, id);
    },
  };
}
