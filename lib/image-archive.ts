// Single-layer container images written as files, without Docker: the layout `docker save` writes
// (manifest.json, the config blob, one uncompressed layer), which `ctr images import` and `docker load`
// both read. The image ID is the sha256 of the config blob, as in Docker and containerd.
//
// Everything is fixed but the content (entry times, owners, order, the config's dates), so the same files
// give the same ID on every machine and every run: a rebuild that changes nothing loads nothing.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// tar-stream is imported when an archive is written: a run that writes none (a no-op, --help) never loads it.
import type { Header as FullHeader, Pack } from 'tar-stream';

/** The header fields given; tar-stream fills in the rest. */
type Header = Partial<FullHeader> & { name: string };
import type { LocalImages } from './docker/load-image.ts';
import { hostArch } from './host-arch.ts';

/** One entry of the image's filesystem; `path` is absolute inside the image. Parent directories are added. */
export type ImageEntry =
  | { path: string; content: Buffer | string; mode?: number }
  | { path: string; symlink: string }
  | { path: string; directory: true; mode?: number };

/** The run settings of the image config (what a Dockerfile's USER, ENV, EXPOSE, ENTRYPOINT and CMD set). */
export type ImageSettings = {
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  env?: string[];
  /** `53/udp`, `8080` (tcp when no protocol is given). */
  exposedPorts?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
};

/** A written archive: the image ID (config digest) and every name the archive gives it. */
export type ImageArchive = { id: string; path: string; refs: string[]; bytes: number };

/** Fixed time of every entry and of the config: content alone decides the ID. */
const EPOCH = new Date(0);

/** The layer's entries in order: every parent directory before its children, each path once. */
function layerEntries(entries: readonly ImageEntry[]): ImageEntry[] {
  const byPath = new Map<string, ImageEntry>();
  for (const entry of entries) {
    const path = posix.normalize(entry.path);
    if (!path.startsWith('/') || path === '/') throw new Error(`image entry ${JSON.stringify(entry.path)}: an absolute path below / is needed`);
    for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir)) if (!byPath.has(dir)) byPath.set(dir, { path: dir, directory: true });
    byPath.set(path, { ...entry, path });
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function header(entry: ImageEntry): Header {
  const common = { name: entry.path.slice(1), mtime: EPOCH, uid: 0, gid: 0, uname: 'root', gname: 'root' };
  if ('symlink' in entry) return { ...common, type: 'symlink', linkname: entry.symlink, mode: 0o777 };
  if ('directory' in entry) return { ...common, name: `${common.name}/`, type: 'directory', mode: entry.mode ?? 0o755 };
  return { ...common, type: 'file', mode: entry.mode ?? 0o644, size: Buffer.byteLength(entry.content) };
}

/** One tar entry, with its content when it is a file. */
function addEntry(tar: Pack, h: Header, content: Buffer | undefined): Promise<void> {
  const full = h as FullHeader;
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error | null) => (error ? reject(error) : resolve());
    if (content) tar.entry(full, content, done);
    else tar.entry(full, done);
  });
}

/** Writes the layer tar to `path`; resolves with its sha256 (the layer's diff ID) and size. */
async function writeLayer(path: string, entries: readonly ImageEntry[]): Promise<{ digest: string; bytes: number }> {
  const tar = (await import('tar-stream')).pack();
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const written = pipeline(tar, meter, createWriteStream(path, { mode: 0o600 }));
  for (const entry of layerEntries(entries)) {
    await addEntry(tar, header(entry), 'content' in entry ? Buffer.from(entry.content) : undefined);
  }
  tar.finalize();
  await written;
  return { digest: `sha256:${hash.digest('hex')}`, bytes };
}

/** The image config (OCI image config, which Docker's is too) for one layer. */
function imageConfig(settings: ImageSettings, diffId: string, architecture: string): Buffer {
  const config: Record<string, unknown> = {};
  if (settings.user) config.User = settings.user;
  if (settings.exposedPorts?.length) config.ExposedPorts = Object.fromEntries(settings.exposedPorts.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}]));
  if (settings.env?.length) config.Env = settings.env;
  if (settings.entrypoint) config.Entrypoint = settings.entrypoint;
  if (settings.cmd) config.Cmd = settings.cmd;
  if (settings.workingDir) config.WorkingDir = settings.workingDir;
  if (settings.labels && Object.keys(settings.labels).length) config.Labels = settings.labels;
  return Buffer.from(
    JSON.stringify({
      architecture,
      os: 'linux',
      created: EPOCH.toISOString(),
      config,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: EPOCH.toISOString(), created_by: 'harder (lib/image-archive.ts)' }],
    }),
  );
}

/**
 * Writes the image of `entries` with `settings` to `dest` under the names `refs`, atomically (temp file and
 * rename beside it): a crash leaves the old archive or none, never half of one.
 */
export async function writeImageArchive(dest: string, image: { refs: string[]; entries: readonly ImageEntry[]; settings: ImageSettings; architecture?: string }): Promise<ImageArchive> {
  await mkdir(dirname(dest), { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const layerFile = join(dirname(dest), `.${basename(dest)}.layer-${suffix}`);
  const temp = join(dirname(dest), `.${basename(dest)}.part-${suffix}`);
  try {
    const layer = await writeLayer(layerFile, image.entries);
    const config = imageConfig(image.settings, layer.digest, image.architecture ?? hostArch());
    const id = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const hex = id.slice(7);
    const layerName = `${layer.digest.slice(7)}/layer.tar`;
    const manifest = Buffer.from(JSON.stringify([{ Config: `${hex}.json`, RepoTags: image.refs, Layers: [layerName] }]));
    // manifest.json first: archiveImageId reads the ID from the archive's first entry alone.
    const tar = (await import('tar-stream')).pack();
    const written = pipeline(tar, createWriteStream(temp, { mode: 0o644 }));
    const add = (h: Header, content?: Buffer) => addEntry(tar, { ...{ mtime: EPOCH, uid: 0, gid: 0, mode: 0o644 }, ...h }, content);
    await add({ name: 'manifest.json' }, manifest);
    await add({ name: `${hex}.json` }, config);
    await add({ name: `${layer.digest.slice(7)}/`, type: 'directory', mode: 0o755 });
    const stream = tar.entry({ name: layerName, size: layer.bytes, mtime: EPOCH, uid: 0, gid: 0, mode: 0o644 } as FullHeader);
    await pipeline(createReadStream(layerFile), stream);
    tar.finalize();
    await written;
    await rename(temp, dest);
    return { id, path: dest, refs: [...image.refs], bytes: (await stat(dest)).size };
  } finally {
    await rm(layerFile, { force: true });
    await rm(temp, { force: true });
  }
}

/**
 * The image ID an archive written by writeImageArchive holds (from its first entry, manifest.json), or
 * undefined when the file is missing or is not such an archive. Reads a few kilobytes, whatever the size.
 */
export async function archiveImageId(path: string): Promise<string | undefined> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return undefined;
  try {
    const head = Buffer.alloc(512);
    if ((await file.read(head, 0, 512, 0)).bytesRead < 512) return undefined;
    if (head.toString('utf8', 0, 13) !== 'manifest.json' || head[13] !== 0) return undefined;
    const size = parseInt(head.toString('utf8', 124, 136).replace(/\0.*$/, '').trim(), 8);
    if (!Number.isInteger(size) || size <= 0 || size > 1 << 20) return undefined;
    const body = Buffer.alloc(size);
    await file.read(body, 0, size, 512);
    const config = (JSON.parse(body.toString('utf8')) as { Config?: unknown }[])[0]?.Config;
    return typeof config === 'string' && /^[0-9a-f]{64}\.json$/.test(config) ? `sha256:${config.slice(0, 64)}` : undefined;
  } catch {
    return undefined;
  } finally {
    await file.close();
  }
}

/**
 * The local side of a node load (lib/docker/load-image.ts) served from archives instead of Docker: the
 * ID of a name is its archive's, and the stream is the archive file. One save streams one archive.
 */
export function archiveImages(archives: readonly ImageArchive[]): LocalImages {
  const archiveOf = (ref: string) => archives.find((a) => a.refs.includes(ref));
  return {
    id: async (ref) => archiveOf(ref)?.id,
    save: async (refs) => {
      const chosen = new Set(refs.map(archiveOf));
      if (chosen.size !== 1 || chosen.has(undefined)) throw new Error(`archiveImages: ${refs.join(', ')} are not the names of one archive`);
      return createReadStream([...chosen][0]!.path);
    },
  };
}
