// An image of one static Go program built from its module through the proxy, FROM scratch: the add-ons'
// controllers (metrics-server, Traefik). The binary goes through the shared binary cache (bin/<version>/go),
// so a second build of the image reuses it; the image target itself is skipped while its tag points at
// the image it built.

import { readFile } from 'node:fs/promises';
import { target } from '../../lib/engine/target.ts';
import type { ContextFile } from '../../lib/docker/images.ts';
import { plainModuleWrapper } from '../../lib/go-build.ts';
import { buildGoBinary, checkVersion, GO_MISSING_HINT } from '../binaries/index.ts';
import { cleanImage, dockerBuild, probeImage } from './cluster-images.ts';

export type GoModuleImageSpec = {
  /** Target name: `image:<kind>`. */
  name: string;
  description: string;
  /** The image's name in Docker and in the nodes' containerd (the upstream name, so manifests read as upstream's). */
  tag: string;
  /** The value of the project's image label (which image this is). */
  kind: string;
  module: string;
  version: string;
  /** The main package; the binary is named after its last element. */
  package: string;
  /** The go directive when upstream's go.mod has none. */
  fallbackGo: string;
  /** Copy upstream's module replaces and excludes into the wrapper (see plainModuleWrapper). */
  keepUpstreamPins?: boolean;
  ldflags: string[];
  /** How the built binary says its version, checked before it goes into the image. */
  versionCheck: { versionArgs: string[]; versionOutput: string[] };
  /** The Dockerfile's lines after `FROM scratch` and the binary's COPY to `/<binary>`. */
  dockerfile: string[];
};

export function goModuleImageTarget(spec: GoModuleImageSpec) {
  const binary = spec.package.split('/').pop()!;
  return target({
    name: spec.name,
    description: spec.description,
    deps: {},
    version: 1,
    inputs: { values: { tag: spec.tag, module: spec.module, version: spec.version, package: spec.package, ldflags: spec.ldflags, dockerfile: spec.dockerfile }, env: ['HARDER_CACHE'] },
    build: async (ctx): Promise<string> => {
      const wrapper = await plainModuleWrapper(spec.module, spec.version, [spec.package], {
        wrapperModule: `harder.local/${spec.kind}-build`,
        fallbackGo: spec.fallbackGo,
        keepUpstreamPins: spec.keepUpstreamPins,
        signal: ctx.signal,
        missingHint: GO_MISSING_HINT,
      });
      const built = await buildGoBinary({ name: binary, version: spec.version, wrapper, package: spec.package, ldflags: spec.ldflags, signal: ctx.signal, log: ctx.log });
      await checkVersion(built.path, spec.versionCheck);
      const context: ContextFile[] = [
        { path: binary, content: await readFile(built.path), mode: 0o755 },
        { path: 'Dockerfile', content: ['FROM scratch', `COPY ${binary} /${binary}`, ...spec.dockerfile, ''].join('\n') },
      ];
      return dockerBuild(spec.tag, spec.kind, context, ctx.log, ctx.signal);
    },
    probe: async (id) => probeImage(spec.tag, id),
    clean: async () => cleanImage(spec.tag),
  });
}
