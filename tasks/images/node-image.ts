// The images the nodes run: the Debian bookworm base (pulled, or debootstrapped offline) and the node
// image built from tasks/images/node/Dockerfile on top of it, tagged and labelled with its own content key.

import { target, type AnyTarget, type Target } from '../../lib/engine/target.ts';
import { derivedImageTarget, partsHash, type DerivedImage } from './derived-image.ts';

/** Where the base came from: a registry pull, an image already on the engine, or debootstrap + import. */
export type BaseImageSource = 'pull' | 'local' | 'debootstrap';

export type BaseImage = { id: string; ref: string; source: BaseImageSource };

export type NodeImage = DerivedImage;

// Typed by result only (deps `any`): lib/engine/target.ts's ResultOf does not match targets whose deps have
// named keys, because `build` is contravariant in its deps.
export type BaseImageTarget = Target<BaseImage, any>;
export type NodeImageTarget = Target<NodeImage, any>;

/** The registry image used when a registry answers. */
export const UPSTREAM_BASE = 'debian:bookworm';
/** The tag of the offline (debootstrap) base image. */
export const DEBOOTSTRAP_BASE_TAG = 'harder-base:bookworm';
/** Label on the debootstrap image: the recipe it was made with, so a changed recipe is not reused. */
export const BASE_RECIPE_LABEL = 'harder.base-recipe';
/** Label on the node image: its content key (Dockerfile context + base image ID). */
export const NODE_IMAGE_KEY_LABEL = 'harder.node-image-key';
export const NODE_IMAGE_REPO = 'harder-node';

/** The build context of the node image: these files of tasks/images/node/, with their modes. */
export const NODE_IMAGE_FILES: { path: string; mode: number }[] = [
  { path: 'Dockerfile', mode: 0o644 },
  { path: 'debian.sources', mode: 0o644 },
  { path: 'entrypoint.sh', mode: 0o755 },
];
const NODE_IMAGE_DIR = 'tasks/images/node';

export type BaseImageOptions = {
  /** Tag for the debootstrap image (tests use their own). */
  tag?: string;
  /** `auto` pulls when a registry answers and debootstraps otherwise. */
  source?: 'auto' | 'pull' | 'debootstrap';
  suite?: string;
  mirror?: string;
};

/** The base image target. Its result is the image ID; the probe checks that image still exists. */
export function baseImageTarget(deps: { host: AnyTarget }, options: BaseImageOptions = {}): BaseImageTarget {
  const tag = options.tag ?? DEBOOTSTRAP_BASE_TAG;
  const suite = options.suite ?? 'bookworm';
  const mirror = options.mirror ?? 'http://deb.debian.org/debian';
  const source = options.source ?? 'auto';
  const recipe = partsHash(['debootstrap', 'minbase', suite, mirror]).slice(0, 16);
  return target({
    name: 'image:base',
    description: `Debian ${suite} base image: pull ${UPSTREAM_BASE}, or debootstrap --variant=minbase and import it offline`,
    deps: { host: deps.host },
    inputs: { values: { tag, suite, mirror, source } },
    build: async (ctx): Promise<BaseImage> => {
      const { connectDocker } = await import('../../lib/docker/connect.ts');
      const { inspectImage, pullImage } = await import('../../lib/docker/images.ts');
      const docker = await connectDocker();
      const forced = ctx.reason === 'forced';
      if (source !== 'debootstrap' && suite === 'bookworm') {
        try {
          ctx.log(`pulling ${UPSTREAM_BASE}`);
          const id = await pullImage(docker, UPSTREAM_BASE, { onProgress: ctx.log, signal: ctx.signal, timeoutMs: 600_000 });
          return { id, ref: UPSTREAM_BASE, source: 'pull' };
        } catch (error) {
          if (source === 'pull') throw error;
          const local = await inspectImage(docker, UPSTREAM_BASE);
          if (local && !forced) {
            ctx.log(`no registry answers; using the ${UPSTREAM_BASE} image already on the engine`);
            return { id: local.id, ref: UPSTREAM_BASE, source: 'local' };
          }
          ctx.log(`no registry answers (${(error as Error).message.split('\n')[0]!.slice(0, 160)}); using the offline base (debootstrap)`);
        }
      }
      // The debootstrap image is the cache: a fresh state directory (or another checkout) reuses it
      // instead of spending a minute on debootstrap, unless it was made by another recipe or --force.
      const existing = await inspectImage(docker, tag);
      if (existing && existing.labels[BASE_RECIPE_LABEL] === recipe && !forced) {
        ctx.log(`reusing ${tag} (${existing.id.slice(7, 19)})`);
        return { id: existing.id, ref: tag, source: 'debootstrap' };
      }
      const { debootstrapImage } = await import('../../lib/docker/debootstrap.ts');
      ctx.log(`debootstrap --variant=minbase ${suite} (about a minute)`);
      const id = await debootstrapImage(docker, {
        suite,
        mirror,
        tag,
        changes: ['CMD ["/bin/bash"]', `LABEL ${BASE_RECIPE_LABEL}=${recipe}`],
        onProgress: ctx.log,
        signal: ctx.signal,
      });
      return { id, ref: tag, source: 'debootstrap' };
    },
    probe: async (result) => {
      const { inspectImage } = await import('../../lib/docker/images.ts');
      const image = await inspectImage(undefined, result.id);
      return image ? undefined : `base image ${result.ref} (${result.id.slice(7, 19)}) no longer exists`;
    },
    clean: async (result) => {
      if (!result || result.source !== 'debootstrap') return;
      const { connectDocker } = await import('../../lib/docker/connect.ts');
      const { removeImage } = await import('../../lib/docker/images.ts');
      await removeImage(await connectDocker(), result.ref);
    },
    // A lost base image costs a debootstrap (a minute); cleaning it should be deliberate.
    precious: true,
  });
}

/** The node image target: a real docker build of tasks/images/node/Dockerfile FROM the base image. */
export function nodeImageTarget(deps: { base: BaseImageTarget }): NodeImageTarget {
  return derivedImageTarget(
    {
      name: 'image:node',
      description: 'Node image: systemd, containerd, runc, CNI plugins, etcd and network tools (tasks/images/node/Dockerfile)',
      repo: NODE_IMAGE_REPO,
      keyLabel: NODE_IMAGE_KEY_LABEL,
      what: 'node image',
      files: NODE_IMAGE_FILES.map((f) => ({ ...f, from: `${NODE_IMAGE_DIR}/${f.path}` })),
    },
    deps,
  );
}
