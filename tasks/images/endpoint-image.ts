// The API endpoint's image: HAProxy and socat from Debian's packages on the project's base image
// (tasks/images/endpoint/Dockerfile), tagged and labelled with its own content key like the node image.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { target, type Target } from '../../lib/engine/target.ts';
import { nodeImageKey, type BaseImageTarget } from './node-image.ts';

export type EndpointImage = { id: string; ref: string; key: string; baseId: string };
export type EndpointImageTarget = Target<EndpointImage, any>;

export const ENDPOINT_IMAGE_REPO = 'harder-endpoint';
/** Label on the endpoint image: its content key (build context + base image ID). */
export const ENDPOINT_IMAGE_KEY_LABEL = 'harder.endpoint-image-key';

/** The build context: the Dockerfile and bootstrap config beside it, and the node image's apt sources (one copy). */
export const ENDPOINT_IMAGE_FILES: { path: string; from: string; mode: number }[] = [
  { path: 'Dockerfile', from: 'tasks/images/endpoint/Dockerfile', mode: 0o644 },
  { path: 'bootstrap.cfg', from: 'tasks/images/endpoint/bootstrap.cfg', mode: 0o644 },
  { path: 'debian.sources', from: 'tasks/images/node/debian.sources', mode: 0o644 },
];

export function endpointImageTarget(deps: { base: BaseImageTarget }): EndpointImageTarget {
  return target({
    name: 'image:endpoint',
    description: 'API endpoint image: HAProxy from Debian on the base image (tasks/images/endpoint/Dockerfile)',
    deps: { base: deps.base },
    inputs: { files: ENDPOINT_IMAGE_FILES.map((f) => f.from) },
    build: async (ctx): Promise<EndpointImage> => {
      const { connectDocker } = await import('../../lib/docker/connect.ts');
      const { buildImage, inspectImage } = await import('../../lib/docker/images.ts');
      const docker = await connectDocker();
      const context = await Promise.all(ENDPOINT_IMAGE_FILES.map(async (f) => ({ path: f.path, mode: f.mode, content: await readFile(join(ctx.root, f.from)) })));
      const key = nodeImageKey(context, ctx.deps.base.id);
      const ref = `${ENDPOINT_IMAGE_REPO}:${key.slice(0, 12)}`;
      const existing = await inspectImage(docker, ref);
      if (existing && existing.labels[ENDPOINT_IMAGE_KEY_LABEL] === key && ctx.reason !== 'forced') {
        ctx.log(`reusing ${ref}`);
        return { id: existing.id, ref, key, baseId: ctx.deps.base.id };
      }
      ctx.log(`docker build ${ref} FROM ${ctx.deps.base.ref}`);
      const id = await buildImage(docker, {
        context,
        tags: [ref],
        labels: { [ENDPOINT_IMAGE_KEY_LABEL]: key },
        buildArgs: { BASE_IMAGE: ctx.deps.base.id },
        onProgress: ctx.log,
        signal: ctx.signal,
      });
      return { id, ref, key, baseId: ctx.deps.base.id };
    },
    probe: async (result) => {
      const { inspectImage } = await import('../../lib/docker/images.ts');
      const image = await inspectImage(undefined, result.ref);
      if (!image) return `endpoint image ${result.ref} no longer exists`;
      if (image.labels[ENDPOINT_IMAGE_KEY_LABEL] !== result.key) return `endpoint image ${result.ref} has another content key`;
      return undefined;
    },
    // No clean(), like the node image: shared by every cluster; `docker rmi` removes it by hand.
  });
}
