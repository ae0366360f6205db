// image:traefik: the Ingress controller, github.com/traefik/traefik/v3 built from its Go module, FROM scratch.

import { goModuleImageTarget } from '../../images/go-image.ts';
import { TRAEFIK_VERSION } from '../versions.ts';

export const TRAEFIK_IMAGE = `docker.io/library/traefik:${TRAEFIK_VERSION}`;

/** `arch`: the CPU of the workers it is for (default: the build host's). */
export function traefikImageTarget(arch?: string) {
  const version = TRAEFIK_VERSION;
  const number = version.replace(/^v/, '');
  return goModuleImageTarget({
    name: 'traefik',
    description: `${TRAEFIK_IMAGE}: the Ingress controller, built from the github.com/traefik/traefik/v3 Go module`,
    tag: TRAEFIK_IMAGE,
    module: 'github.com/traefik/traefik/v3',
    version,
    package: 'github.com/traefik/traefik/v3/cmd/traefik',
    fallbackGo: '1.25.0',
    // Traefik builds against forks of two modules and excludes an ambiguous SDK version (its go.mod says so).
    keepUpstreamPins: true,
    // The version variables of upstream's release build (without the v, as its releases print it).
    ldflags: ['-s', '-w', `-X github.com/traefik/traefik/v3/pkg/version.Version=${number}`, '-X github.com/traefik/traefik/v3/pkg/version.Codename=harder'],
    versionCheck: { versionArgs: ['version'], versionOutput: [number] },
    // Unprivileged: it listens on 8000/8443 (the Service maps 80/443 to them) and needs no capability.
    settings: { user: '65532:65532', exposedPorts: ['8000', '8443'], entrypoint: ['/traefik'] },
  }, arch);
}
