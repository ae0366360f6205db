// An image of one static Go program built from its module through the proxy, FROM scratch: the add-ons'
// controllers (metrics-server, Traefik). The binary goes through the shared binary cache (bin/<version>/go),
// so a second build of the image reuses it; the image itself is an archive (scratch-image.ts).

import { readFile } from 'node:fs/promises';
import type { ImageSettings } from '../../lib/image-archive.ts';
import { GO_BUILD_POOL, plainModuleWrapper } from '../../lib/go-build.ts';
import { buildGoBinary, checkBinary, GO_MISSING_HINT } from '../binaries/index.ts';
import { hostArch } from '../../lib/host-arch.ts';
import { scratchImageTarget } from './scratch-image.ts';

export type GoModuleImageSpec = {
  /** Target name: `image:<name>`. */
  name: string;
  description: string;
  /** The image's name in the nodes' containerd (the upstream name, so manifests read as upstream's). */
  tag: string;
  module: string;
  version: string;
  /** The main package; the binary is named after its last element and lies at `/<binary>`. */
  package: string;
  /** The go directive when upstream's go.mod has none. */
  fallbackGo: string;
  /** Copy upstream's module replaces and excludes into the wrapper (see plainModuleWrapper). */
  keepUpstreamPins?: boolean;
  ldflags: string[];
  /** How the built binary says its version, checked before it goes into the image. */
  versionCheck: { versionArgs: string[]; versionOutput: string[] };
  /** User, ports, entrypoint: what upstream's Dockerfile sets after its COPY. */
  settings: ImageSettings;
};

/** `arch`: the CPU to cross-build for (default: the build host's). */
export function goModuleImageTarget(spec: GoModuleImageSpec, arch: string = hostArch()) {
  const binary = spec.package.split('/').pop()!;
  return scratchImageTarget({
    arch,
    name: spec.name,
    description: spec.description,
    ref: spec.tag,
    deps: {},
    inputs: { values: { module: spec.module, version: spec.version, package: spec.package, ldflags: spec.ldflags }, env: ['HARDER_CACHE'] },
    settings: spec.settings,
    pool: GO_BUILD_POOL,
    files: async (ctx) => {
      const wrapper = await plainModuleWrapper(spec.module, spec.version, [spec.package], {
        wrapperModule: `harder.local/${spec.name}-build`,
        fallbackGo: spec.fallbackGo,
        keepUpstreamPins: spec.keepUpstreamPins,
        signal: ctx.signal,
        missingHint: GO_MISSING_HINT,
      });
      const built = await buildGoBinary({ name: binary, version: spec.version, wrapper, package: spec.package, ldflags: spec.ldflags, arch, signal: ctx.signal, log: ctx.log });
      await checkBinary(built.path, { arch, version: spec.version, ...spec.versionCheck });
      return [{ path: `/${binary}`, content: await readFile(built.path), mode: 0o755 }];
    },
  });
}
