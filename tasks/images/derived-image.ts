// An image built FROM the project's base image by a real `docker build` (the node image, the API
// endpoint's image): tagged and labelled with its own content key (every context file's path, mode and
// bytes, and the base image ID), so a build is skipped when an image with that key exists, and the probe
// finds an image that was removed or replaced by hand.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { target, type Target } from '../../lib/engine/target.ts';
import type { BaseImageTarget } from './node-image.ts';

export type DerivedImage = { id: string; ref: string; key: string; baseId: string };

/** One file of the build context: its path in the context, where it is in the project, its mode. */
export type ContextFileSpec = { path: string; from: string; mode: number };

export type DerivedImageSpec = {
  name: string;
  description: string;
  /** Image repository; the tag is the first 12 characters of the key. */
  repo: string;
  /** Label holding the content key. */
  keyLabel: string;
  /** How messages name the image: `node image`. */
  what: string;
  files: readonly ContextFileSpec[];
};

/** SHA-256 of the parts, each prefixed by its length (so no two lists of parts hash alike). */
export function partsHash(parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(String(Buffer.byteLength(part)));
    hash.update(':');
    hash.update(part);
  }
  return hash.digest('hex');
}

/** The content key: every context file (path, mode, bytes) and the base image ID. */
export function derivedImageKey(context: { path: string; content: Buffer; mode: number }[], baseId: string): string {
  return partsHash([baseId, ...context.flatMap((f) => [f.path, f.mode.toString(8), f.content])]);
}

export function derivedImageTarget(spec: DerivedImageSpec, deps: { base: BaseImageTarget }): Target<DerivedImage, any> {
  return target({
    name: spec.name,
    description: spec.description,
    deps: { base: deps.base },
    inputs: { files: spec.files.map((f) => f.from) },
    build: async (ctx): Promise<DerivedImage> => {
      const { connectDocker } = await import('../../lib/docker/connect.ts');
      const { buildImage, inspectImage } = await import('../../lib/docker/images.ts');
      const docker = await connectDocker();
      const context = await Promise.all(spec.files.map(async (f) => ({ path: f.path, mode: f.mode, content: await readFile(join(ctx.root, f.from)) })));
      const key = derivedImageKey(context, ctx.deps.base.id);
      const ref = `${spec.repo}:${key.slice(0, 12)}`;
      const existing = await inspectImage(docker, ref);
      if (existing && existing.labels[spec.keyLabel] === key && ctx.reason !== 'forced') {
        ctx.log(`reusing ${ref}`);
        return { id: existing.id, ref, key, baseId: ctx.deps.base.id };
      }
      ctx.log(`docker build ${ref} FROM ${ctx.deps.base.ref}`);
      const id = await buildImage(docker, {
        context,
        tags: [ref],
        labels: { [spec.keyLabel]: key },
        // The ID, not the tag: the build uses exactly the base this key was computed from.
        buildArgs: { BASE_IMAGE: ctx.deps.base.id },
        onProgress: ctx.log,
        signal: ctx.signal,
      });
      return { id, ref, key, baseId: ctx.deps.base.id };
    },
    probe: async (result) => {
      const { inspectImage } = await import('../../lib/docker/images.ts');
      const image = await inspectImage(undefined, result.ref);
      if (!image) return `${spec.what} ${result.ref} no longer exists`;
      if (image.labels[spec.keyLabel] !== result.key) return `${spec.what} ${result.ref} has another content key`;
      return undefined;
    },
    // No clean(): shared by every cluster and slow to rebuild; `clean:nodes` keeps it (`docker rmi` by
    // hand). The next build reuses it when its key label matches.
  });
}
