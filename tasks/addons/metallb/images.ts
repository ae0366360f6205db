// MetalLB's controller and speaker, built from the go.universe.tf/metallb Go module in one `go build` into
// the binary cache (`bin:metallb`), each then in a FROM scratch image under upstream's name, so the
// manifests keep upstream's image references.

import { readFile } from 'node:fs/promises';
import { target } from '../../../lib/engine/target.ts';
import { GO_BUILD_POOL, plainModuleWrapper } from '../../../lib/go-build.ts';
import { buildGoBinaries, GO_MISSING_HINT, probeBinary, type BinaryResult } from '../../binaries/index.ts';
import { scratchImageTarget, type ImageTarget } from '../../images/scratch-image.ts';
import { METALLB_VERSION } from '../versions.ts';
import { hostArch } from '../../../lib/host-arch.ts';
import { archSuffix } from '../../config/arches.ts';

export const METALLB_MODULE = 'go.universe.tf/metallb';
export type MetallbComponent = 'controller' | 'speaker';
export const METALLB_COMPONENTS: readonly MetallbComponent[] = ['controller', 'speaker'];

/** The image of a component, as upstream names it (`quay.io/metallb/speaker:v0.15.2`). */
export function metallbImage(component: MetallbComponent, version = METALLB_VERSION): string {
  return `quay.io/metallb/${component}:${version}`;
}

export type MetallbBinaries = Record<MetallbComponent, BinaryResult>;

/** `bin:metallb`: both binaries from one `go build` of the module (CGO off: static, fit for FROM scratch). */
/** `arch`: the CPU of the workers they are for (default: the build host's; another: `bin:metallb@<arch>`). */
export function metallbBinariesTarget(version = METALLB_VERSION, arch: string = hostArch()) {
  const suffix = archSuffix(arch);
  return target({
    name: `bin:metallb${suffix}`,
    description: `MetalLB ${version} controller and speaker${suffix ? ` for ${arch}` : ''}, built from the ${METALLB_MODULE} Go module`,
    deps: {},
    version: 1,
    inputs: { values: { module: METALLB_MODULE, version, ...(suffix ? { arch } : {}) }, env: ['HARDER_CACHE'] },
    pool: GO_BUILD_POOL,
    build: async (ctx): Promise<MetallbBinaries> => {
      const packages = Object.fromEntries(METALLB_COMPONENTS.map((c) => [`metallb-${c}`, `${METALLB_MODULE}/${c}`]));
      const wrapper = await plainModuleWrapper(METALLB_MODULE, version, Object.values(packages), {
        wrapperModule: 'harder.local/metallb-build',
        fallbackGo: '1.24.0',
        signal: ctx.signal,
        missingHint: GO_MISSING_HINT,
      });
      const built = await buildGoBinaries({
        version,
        wrapper,
        packages,
        // The version package's build information, which the binaries log when they start.
        ldflags: ['-s', '-w', `-X ${METALLB_MODULE}/internal/version.gitCommit=${version}`, `-X ${METALLB_MODULE}/internal/version.gitBranch=harder`],
        arch,
        signal: ctx.signal,
        log: ctx.log,
      });
      const result = (c: MetallbComponent): BinaryResult => ({ name: `metallb-${c}`, version, source: 'go', ...built[`metallb-${c}`]! });
      return { controller: result('controller'), speaker: result('speaker') };
    },
    probe: async (result) => (await probeBinary(result.controller)) ?? (await probeBinary(result.speaker)),
  });
}

export type MetallbBinariesTarget = ReturnType<typeof metallbBinariesTarget>;

/** `image:metallb-<component>`: the binary alone in a FROM scratch image (upstream's runs it as its entrypoint too). */
export function metallbImageTarget(component: MetallbComponent, bin: MetallbBinariesTarget, version = METALLB_VERSION, arch?: string): ImageTarget<{ bin: MetallbBinariesTarget }> {
  const tag = metallbImage(component, version);
  return scratchImageTarget({
    name: `metallb-${component}`,
    ...(arch ? { arch } : {}),
    description: `${tag}: MetalLB's ${component}, FROM scratch`,
    ref: tag,
    deps: { bin },
    // No user: the manifests set it (the controller runs as 65534; the speaker as root, with NET_RAW only).
    settings: { entrypoint: [`/${component}`] },
    files: async (ctx) => [{ path: `/${component}`, content: await readFile(ctx.deps.bin[component].path), mode: 0o755 }],
  });
}
