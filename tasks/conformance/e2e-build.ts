// `bin:e2e.test`, `bin:ginkgo`, `bin:agnhost`: the upstream conformance suite built here — `e2e.test` (`go test -c k8s.io/kubernetes/test/e2e`),
// the ginkgo CLI that runs it in parallel, and agnhost (the suite's Swiss-army test image) — from a wrapper
// module with the same replaces, Go caches and version ldflags as the cluster's binaries, cached the same way.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { target } from '../../lib/engine/target.ts';
import { cachePath } from '../../lib/cache-root.ts';
import { fileDigest } from '../../lib/download.ts';
import { GO_BUILD_POOL, goBuild, goModDownload, goTestBuild, goVersion, prepareWrapperModule, readGoMod, type WrapperModuleSpec } from '../../lib/go-build.ts';
import { GO_MISSING_HINT, kubernetesLdflags, parseVersion } from '../binaries/index.ts';
import type { ClusterConfig } from '../config/config.ts';

/** The packages test/e2e/e2e_test.go imports: `go mod tidy` only keeps a dependency's test imports when they are named. */
const E2E_SUITE_PACKAGES = [
  'apimachinery', 'apps', 'architecture', 'auth', 'autoscaling', 'cloud', 'common', 'dra', 'instrumentation', 'kubectl',
  'lifecycle', 'lifecycle/bootstrap', 'network', 'node', 'scheduling', 'storage', 'storage/csimock', 'storage/external', 'windows',
  'framework/debug/init', 'framework/metrics/init', 'framework/node/init',
].map((p) => `k8s.io/kubernetes/test/e2e/${p}`);

export const E2E_PACKAGE = 'k8s.io/kubernetes/test/e2e';
export const GINKGO_PACKAGE = 'github.com/onsi/ginkgo/v2/ginkgo';
export const AGNHOST_PACKAGE = 'k8s.io/kubernetes/test/images/agnhost';
export const SAMPLE_APISERVER_PACKAGE = 'k8s.io/sample-apiserver';
export const NONEWPRIVS_PACKAGE = 'k8s.io/kubernetes/test/images/nonewprivs';

type Built = { path: string; sha256: string };
/** A suite binary in ~/.cache/harder/bin/<version>/go/; `moduleDir` is the k8s.io/kubernetes source it came from (the agnhost image takes files from it). */
export type SuiteBinaryResult = Built & { version: string; moduleDir: string };

/** The e2e wrapper: k8s.io/kubernetes at `version`, each staging module replaced by its published tag. */
export async function e2eWrapper(version: string, signal?: AbortSignal): Promise<{ wrapper: WrapperModuleSpec; moduleDir: string; time?: string }> {
  const { minor, patch } = parseVersion(version);
  const upstream = await goModDownload('k8s.io/kubernetes', version, { signal, missingHint: GO_MISSING_HINT });
  const mod = await readGoMod(upstream.goMod, signal);
  const replace: Record<string, string> = {};
  for (const entry of mod.Replace ?? []) if (entry.New.Path.startsWith('./staging/')) replace[entry.Old.Path] = `${entry.Old.Path} v0.${minor}.${patch}`;
  const wrapper: WrapperModuleSpec = {
    module: 'harder.local/kubernetes-e2e-build',
    goDirective: mod.Go ?? '1.24.0',
    godebug: (mod.GoDebug ?? []).map((d) => `${d.Key}=${d.Value}`),
    require: { 'k8s.io/kubernetes': version },
    replace,
    // The ginkgo CLI comes at the version k8s.io/kubernetes requires, so CLI and suite speak the same protocol.
    packages: [E2E_PACKAGE, ...E2E_SUITE_PACKAGES, GINKGO_PACKAGE, AGNHOST_PACKAGE, SAMPLE_APISERVER_PACKAGE],
  };
  return { wrapper, moduleDir: upstream.dir, ...(upstream.time ? { time: upstream.time } : {}) };
}

/** A cached build is reused only when its recorded recipe matches and the file still has its digest. */
async function reuse(path: string, recipe: string): Promise<Built | undefined> {
  const meta = JSON.parse(await readFile(`${path}.json`, 'utf8').catch(() => 'null')) as { recipe: string; sha256: string } | null;
  if (!meta || meta.recipe !== recipe || !existsSync(path)) return undefined;
  const sha256 = await fileDigest(path);
  return sha256 === meta.sha256 ? { path, sha256 } : undefined;
}

/** The suite binaries: e2e.test is a test binary (`go test -c`), the others are main packages. */
const SUITE_BINARIES = {
  'e2e.test': { package: E2E_PACKAGE, test: true, what: 'the e2e suite (go test -c; many minutes on a cold build cache)' },
  ginkgo: { package: GINKGO_PACKAGE, test: false, what: "the ginkgo CLI at the version k8s.io/kubernetes requires (runs e2e.test in parallel)" },
  agnhost: { package: AGNHOST_PACKAGE, test: false, what: "agnhost, the suite's test server (the agnhost image's binary)" },
  'sample-apiserver': { package: SAMPLE_APISERVER_PACKAGE, test: false, what: 'the sample aggregated API server (the aggregator test registers it)' },
  nonewprivs: { package: NONEWPRIVS_PACKAGE, test: false, what: 'nnp, which prints its effective uid (the nonewprivs image makes it setuid root)' },
} as const;
export type SuiteBinary = keyof typeof SUITE_BINARIES;

/** `bin:e2e.test`, `bin:ginkgo`, `bin:agnhost`: built from the e2e wrapper module into ~/.cache/harder/bin/<version>/go/. */
export function e2eBinaryTarget(config: ClusterConfig, name: SuiteBinary) {
  const version = config.kubernetesVersion;
  const spec = SUITE_BINARIES[name];
  return target({
    name: `bin:${name}`,
    description: `${spec.what}, ${version}, from the k8s.io/kubernetes module (cached in ~/.cache/harder/bin)`,
    deps: {},
    version: 1,
    inputs: { values: { version, package: spec.package }, env: ['HARDER_CACHE'] },
    pool: GO_BUILD_POOL,
    build: async (ctx): Promise<SuiteBinaryResult> => {
      const toolchain = await goVersion(GO_MISSING_HINT);
      const { wrapper, moduleDir, time } = await e2eWrapper(version, ctx.signal);
      const ldflags = kubernetesLdflags(version, time);
      const path = cachePath('bin', version, 'go', name);
      const recipe = JSON.stringify({ toolchain, wrapper, package: spec.package, test: spec.test, ldflags, cgo: 0, trimpath: true });
      const cached = await reuse(path, recipe);
      if (cached) {
        ctx.log(`reusing ${path} (in the cache since an earlier run)`);
        return { ...cached, version, moduleDir };
      }
      const dir = cachePath('go', 'work', `kubernetes-e2e-build-${version}`);
      await prepareWrapperModule(dir, wrapper, { signal: ctx.signal, log: ctx.log, missingHint: GO_MISSING_HINT });
      ctx.log(`building ${name} from ${spec.package} with ${toolchain}`);
      const started = Date.now();
      if (spec.test) await goTestBuild({ dir, package: spec.package, output: path, ldflags, signal: ctx.signal, log: ctx.log, missingHint: GO_MISSING_HINT });
      else await goBuildOne(dir, spec.package, path, ldflags, ctx.signal, ctx.log);
      const sha256 = await fileDigest(path);
      await writeFile(`${path}.json`, `${JSON.stringify({ name, version, recipe, sha256, seconds: Math.round((Date.now() - started) / 1000) }, null, 2)}\n`);
      return { path, sha256, version, moduleDir };
    },
    probe: async (result) => {
      if (!existsSync(result.path)) return `${result.path} is gone from the cache`;
      return existsSync(result.moduleDir) ? undefined : `${result.moduleDir} is gone from the Go module cache`;
    },
  });
}

/** One main package through the shared goBuild (its queue: one Go build at a time per process). */
async function goBuildOne(dir: string, pkg: string, output: string, ldflags: string[], signal: AbortSignal, log: (line: string) => void): Promise<void> {
  await goBuild({ dir, outputs: { [pkg]: output }, ldflags, signal, log, missingHint: GO_MISSING_HINT });
}
