// `image:<name>` for the images the cluster runs: FROM scratch images of static binaries, written as an
// archive under output/images/ by lib/image-archive.ts (no Docker), and streamed into each worker's
// containerd by the load targets. Container nodes and SSH machines load them the same way, so a cluster on
// machines needs no Docker on the build host.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { target, type BuildContext, type DepMap, type Inputs, type Pool, type Target } from '../../lib/engine/target.ts';
import { hostArch } from '../../lib/host-arch.ts';
import { archSuffix } from '../config/arches.ts';
import { archiveImageId, writeImageArchive, type ImageArchive, type ImageEntry, type ImageSettings } from '../../lib/image-archive.ts';

export type { ImageArchive } from '../../lib/image-archive.ts';

/** An image target's result: the archive, with the image ID (its config digest) and its name. */
export type ImageTarget<D extends DepMap = DepMap> = Target<ImageArchive, D>;

export type ScratchImageSpec<D extends DepMap> = {
  /** Target name: `image:<name>`; the archive is output/images/<name>.tar. */
  name: string;
  description: string;
  /** The image's name in the nodes' containerd (upstream's name, so manifests read as upstream's). */
  ref: string;
  deps: D;
  /** What keys the target besides its dependencies' results (versions, flags); the image's settings are added. */
  inputs?: Inputs;
  settings: ImageSettings;
  /** The image's files (compiles or fetches what it needs; the engine calls it only to build). */
  files: (ctx: BuildContext<D>) => Promise<ImageEntry[]>;
  /** The engine pool its build takes a slot of (GO_BUILD_POOL for an image that compiles Go). */
  pool?: Pool;
  /**
   * The CPU its files are for (Go's name), which the image config says. Absent: the build host's. Another
   * one names the target `image:<name>@<arch>` and its archive `<name>-<arch>.tar`; the build host's keep
   * the names and keys they always had.
   */
  arch?: string;
};

/** Where an image's archive lives in a cluster's state. */
export const imageArchivePath = (outDir: string, name: string): string => join(outDir, 'images', `${name}.tar`);

export function scratchImageTarget<D extends DepMap>(spec: ScratchImageSpec<D>): ImageTarget<D> {
  const inputs = spec.inputs ?? {};
  const arch = spec.arch ?? hostArch();
  const suffix = archSuffix(arch);
  const file = suffix ? `${spec.name}-${arch}` : spec.name;
  return target({
    name: `image:${spec.name}${suffix}`,
    description: spec.description + (suffix ? ` (for ${arch} nodes)` : ''),
    deps: spec.deps,
    version: 2,
    inputs: { ...inputs, values: { ...(inputs.values ?? {}), ref: spec.ref, settings: spec.settings, ...(suffix ? { arch } : {}) } },
    ...(spec.pool ? { pool: spec.pool } : {}),
    build: async (ctx): Promise<ImageArchive> => {
      const entries = await spec.files(ctx);
      const archive = await writeImageArchive(imageArchivePath(ctx.outDir, file), { refs: [spec.ref], entries, settings: spec.settings, architecture: arch });
      ctx.log(`wrote ${spec.ref} for ${arch} (${archive.id.slice(7, 19)}, ${(archive.bytes / 1e6).toFixed(1)} MB) to output/images/${file}.tar`);
      return archive;
    },
    // The archive is still there and still holds the image this target wrote.
    probe: async (archive) => {
      const id = await archiveImageId(archive.path);
      if (!id) return `${archive.path} is missing or unreadable`;
      return id === archive.id ? undefined : `${archive.path} now holds ${id.slice(7, 19)}, not ${archive.id.slice(7, 19)}`;
    },
    clean: async (archive) => {
      if (archive) await rm(archive.path, { force: true });
    },
  });
}
