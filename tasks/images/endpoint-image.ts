// The API endpoint's image: HAProxy and socat from Debian's packages on the project's base image
// (tasks/images/endpoint/Dockerfile), tagged and labelled with its own content key like the node image.

import type { Target } from '../../lib/engine/target.ts';
import type { BaseImageTarget } from './node-image.ts';
import { derivedImageTarget, type ContextFileSpec, type DerivedImage } from './derived-image.ts';

export type EndpointImage = DerivedImage;
export type EndpointImageTarget = Target<EndpointImage, any>;

export const ENDPOINT_IMAGE_REPO = 'harder-endpoint';
/** Label on the endpoint image: its content key (build context + base image ID). */
export const ENDPOINT_IMAGE_KEY_LABEL = 'harder.endpoint-image-key';

/** The build context: the Dockerfile and bootstrap config beside it, and the node image's apt sources (one copy). */
export const ENDPOINT_IMAGE_FILES: ContextFileSpec[] = [
  { path: 'Dockerfile', from: 'tasks/images/endpoint/Dockerfile', mode: 0o644 },
  { path: 'bootstrap.cfg', from: 'tasks/images/endpoint/bootstrap.cfg', mode: 0o644 },
  { path: 'debian.sources', from: 'tasks/images/node/debian.sources', mode: 0o644 },
];

export function endpointImageTarget(deps: { base: BaseImageTarget }): EndpointImageTarget {
  return derivedImageTarget(
    {
      name: 'image:endpoint',
      description: 'API endpoint image: HAProxy from Debian on the base image (tasks/images/endpoint/Dockerfile)',
      repo: ENDPOINT_IMAGE_REPO,
      keyLabel: ENDPOINT_IMAGE_KEY_LABEL,
      what: 'endpoint image',
      files: ENDPOINT_IMAGE_FILES,
    },
    deps,
  );
}
