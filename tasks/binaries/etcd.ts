// etcd and etcdctl, built from etcd's own Go modules (go.etcd.io/etcd/server/v3 and …/etcdctl/v3, one
// `go build`) into the binary cache, like the Kubernetes binaries. The nodes used to run Debian bookworm's
// etcd-server 3.4.23: too old for Kubernetes 1.34's watch cache, which needs etcd's progress notifications
// (RequestWatchProgress: etcd 3.4.31+ or 3.5.13+) to serve a watch "from now" without waiting on freshness.

import { target } from '../../lib/engine/target.ts';
import { GO_BUILD_POOL, goModDownload, readGoMod, type WrapperModuleSpec } from '../../lib/go-build.ts';
import { etcdVersionOf, type ClusterConfig } from '../config/config.ts';
import { buildGoBinaries, checkBinary, GO_MISSING_HINT, probeBinary, type BinaryResult } from './index.ts';
import { hostArch } from '../../lib/host-arch.ts';
import { archSuffix, clusterArches } from '../config/arches.ts';

export const ETCD_BINARIES = ['etcd', 'etcdctl'] as const;
export type EtcdBinary = (typeof ETCD_BINARIES)[number];
export type EtcdBinaries = Record<EtcdBinary, BinaryResult>;

const SERVER_MODULE = 'go.etcd.io/etcd/server/v3';
const ETCDCTL_MODULE = 'go.etcd.io/etcd/etcdctl/v3';

/** What each binary prints of its version (etcd and etcdctl leave out the leading v). */
export function etcdVersionCheck(name: EtcdBinary, version: string): { versionArgs: string[]; versionOutput: string[] } {
  const bare = version.replace(/^v/, '');
  return name === 'etcd' ? { versionArgs: ['--version'], versionOutput: [`etcd Version: ${bare}`] } : { versionArgs: ['version'], versionOutput: [`etcdctl version: ${bare}`] };
}

/**
 * Both modules at one version in one wrapper. Upstream's go.mod files replace their sibling modules by
 * directories of the repository (`../api`); outside it the published modules of the same version stand
 * for them, which their requirements already name.
 */
async function etcdWrapper(version: string, signal: AbortSignal): Promise<WrapperModuleSpec> {
  const server = await goModDownload(SERVER_MODULE, version, { signal, missingHint: GO_MISSING_HINT });
  const mod = await readGoMod(server.goMod, signal);
  return {
    module: 'harder.local/etcd-build',
    goDirective: mod.Go ?? '1.24.0',
    godebug: (mod.GoDebug ?? []).map((d) => `${d.Key}=${d.Value}`),
    require: { [SERVER_MODULE]: version, [ETCDCTL_MODULE]: version },
    replace: {},
    packages: [SERVER_MODULE, ETCDCTL_MODULE],
  };
}

/**
 * `bin:etcd` builds both binaries; `bin:etcd:etcd` and `bin:etcd:etcdctl` hand on one each, so a node's
 * install of one is rebuilt only when that binary changed. Control planes of another architecture than
 * the build host's get their own three, cross-built (`bin:etcd@arm64`, `bin:etcd:etcd@arm64`…).
 */
export function etcdBinariesTargets(config: ClusterConfig) {
  const [host, ...others] = [hostArch(), ...clusterArches(config, 'control-plane').filter((a) => a !== hostArch())].map((arch) => etcdTargetsFor(config, arch));
  const byArch = Object.fromEntries(others.map((t) => [t.arch, { etcd: t.etcd, etcdctl: t.etcdctl }]));
  return { both: host!.both, etcd: host!.etcd, etcdctl: host!.etcdctl, byArch, all: [host!, ...others].flatMap((t) => [t.both, t.etcd, t.etcdctl]) };
}

function etcdTargetsFor(config: ClusterConfig, arch: string) {
  const version = etcdVersionOf(config);
  const suffix = archSuffix(arch);
  const both = target({
    name: `bin:etcd${suffix}`,
    description: `etcd and etcdctl ${version}${suffix ? ` for ${arch}` : ''}, built from etcd's Go modules into ~/.cache/harder/bin`,
    deps: {},
    version: 1,
    // arch only for a cross build: the build host's keeps the key it always had.
    inputs: { values: { version, modules: [SERVER_MODULE, ETCDCTL_MODULE], ...(suffix ? { arch } : {}) }, env: ['HARDER_CACHE'] },
    pool: GO_BUILD_POOL,
    build: async (ctx): Promise<EtcdBinaries> => {
      const wrapper = await etcdWrapper(version, ctx.signal);
      const packages: Record<EtcdBinary, string> = { etcd: SERVER_MODULE, etcdctl: ETCDCTL_MODULE };
      const built = await buildGoBinaries({ version, wrapper, packages, ldflags: ['-s', '-w'], arch, signal: ctx.signal, log: ctx.log });
      const result = {} as EtcdBinaries;
      for (const name of ETCD_BINARIES) {
        await checkBinary(built[name]!.path, { arch, version, ...etcdVersionCheck(name, version) });
        result[name] = { name, version, source: 'go', ...built[name]! };
      }
      return result;
    },
    probe: async (result) => (await probeBinary(result.etcd)) ?? (await probeBinary(result.etcdctl)),
  });
  const pick = (name: EtcdBinary) =>
    target({
      name: `bin:etcd:${name}${suffix}`,
      description: `${name} ${version}${suffix ? ` for ${arch}` : ''}, from bin:etcd${suffix}`,
      deps: { both },
      version: 1,
      build: async (ctx): Promise<BinaryResult> => ctx.deps.both[name],
    });
  return { arch, both, etcd: pick('etcd'), etcdctl: pick('etcdctl') };
}

export type EtcdBinariesTargets = ReturnType<typeof etcdBinariesTargets>;
