// Builds main packages of Go modules fetched through the module proxy: writes a small wrapper module
// (require + replace + godebug), tidies it once, and runs `go build` with progress lines.
// Generic: knows nothing of Kubernetes; callers say which modules, replaces and ldflags.

import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cachePath } from './cache-root.ts';
import { StepError } from './errors.ts';
import { runCommandResult } from './run-command.ts';
import { pool } from './engine/target.ts';

/** What to say when Go is missing; callers that have other sources pass their own alternatives. */
const DEFAULT_MISSING_HINT = 'install Go 1.24 or newer (https://go.dev/dl/, or Debian backports golang-go) and make sure `go` is on PATH, or set GO to its path';

/** The wrapper module that pulls the wanted modules from the proxy and pins their dependencies. */
export type WrapperModuleSpec = {
  /** Module path of the wrapper itself (never published). */
  module: string;
  /** The `go` directive, e.g. `1.24.0`: at least what the required modules declare. */
  goDirective: string;
  /** `godebug` settings copied from the upstream module (e.g. `default=go1.24`), so behaviour matches upstream builds. */
  godebug: string[];
  /** module path → version. */
  require: Record<string, string>;
  /** module path → `path version` (or a local directory). */
  replace: Record<string, string>;
  /** `path version` entries the module graph must never use (copied from upstream: see plainModuleWrapper). Absent: none. */
  exclude?: string[];
  /**
   * Main packages to build; those of other modules are imported from a `tools` file so `go mod tidy` keeps
   * their dependencies. A package of the wrapper itself (`<module>/<dir>`) has its source in `sources`.
   */
  packages: string[];
  /** Go files of the wrapper's own packages: path relative to the wrapper → content (a custom main). Absent: none. */
  sources?: Record<string, string>;
};

/** Where the Go caches live: shared by every build of the project, outside the repo. */
export function goCacheEnv(): Record<string, string> {
  return {
    GOMODCACHE: process.env.HARDER_GOMODCACHE ?? cachePath('go', 'mod'),
    GOCACHE: process.env.HARDER_GOCACHE ?? cachePath('go', 'build'),
    // Module cache files writable, so `rm -rf ~/.cache/harder` works without chmod.
    GOFLAGS: '-modcacherw',
    CGO_ENABLED: '0',
  };
}

/** The go command: $GO, else `go` on PATH, else the default install location /usr/local/go/bin/go. */
export function goCommand(): string {
  if (process.env.GO) return process.env.GO;
  const onPath = (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'go')));
  if (!onPath && existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  return 'go';
}

type RunOptions = {
  cwd?: string;
  /** Added to the cache environment: GOOS and GOARCH of a cross build. */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Called with every line Go prints (go build -v lists packages on stderr). */
  onLine?: (line: string) => void;
  missingHint?: string;
};

/**
 * Runs the go command through the shared runner (lib/run-command.ts) with the project's Go caches; resolves
 * with stdout. A failure is the CommandError any host command makes (its last 40 lines: compiler errors come
 * last); no Go is a ToolMissingError.
 */
async function runGo(args: string[], options: RunOptions = {}): Promise<string> {
  const result = await runCommandResult([goCommand(), ...args], {
    cwd: options.cwd,
    signal: options.signal,
    env: { ...goCacheEnv(), ...options.env },
    onLine: options.onLine,
    tailLines: 40,
    toolName: 'the Go toolchain',
    missingHint: options.missingHint ?? DEFAULT_MISSING_HINT,
  });
  return result.stdout;
}

/** The toolchain's version (`go1.26.8`). Throws ToolMissingError with `missingHint` when there is none. */
export async function goVersion(missingHint?: string): Promise<string> {
  return (await runGo(['env', 'GOVERSION'], { missingHint })).trim();
}

/** Downloads one module into the module cache and returns where it is (`Dir`) and its go.mod (`GoMod`). */
export async function goModDownload(
  module: string,
  version: string,
  options: { signal?: AbortSignal; missingHint?: string } = {},
): Promise<{ dir: string; goMod: string; time?: string }> {
  // Run outside any module (the cache root), so no surrounding go.mod is consulted.
  await mkdir(cachePath(), { recursive: true });
  const out = await runGo(['mod', 'download', '-json', `${module}@${version}`], { ...options, cwd: cachePath() });
  const info = JSON.parse(out) as { Dir?: string; GoMod?: string; Info?: string; Error?: string };
  if (info.Error || !info.Dir || !info.GoMod) throw new StepError(`go mod download ${module}@${version}: ${info.Error ?? 'no directory reported'}`);
  // The .info file holds the version's commit time: a deterministic build date for version ldflags.
  const meta = info.Info ? ((JSON.parse(await readFile(info.Info, 'utf8').catch(() => '{}')) as { Time?: string })) : {};
  return { dir: info.Dir, goMod: info.GoMod, ...(meta.Time ? { time: meta.Time } : {}) };
}

/** The parsed form of a go.mod file, as `go mod edit -json` prints it (the fields used here). */
export type GoModJson = {
  Module: { Path: string };
  Go?: string;
  GoDebug?: { Key: string; Value: string }[];
  Require?: { Path: string; Version: string }[];
  Replace?: { Old: { Path: string; Version?: string }; New: { Path: string; Version?: string } }[];
  Exclude?: { Path: string; Version: string }[];
};

/**
 * The wrapper for a module that builds as it is (no staging directories of its own, unlike
 * k8s.io/kubernetes): require it at `version`, copy its go and godebug lines, build `packages`.
 * `keepUpstreamPins` also copies upstream's module replaces (forks it builds against) and excludes: a
 * wrapper's graph ignores both, so a module that needs them (Traefik) would otherwise build against
 * other code. A replace by a local directory cannot be copied (the directory is not in the module zip,
 * and the proxy serves no such module): that version does not build from the proxy, said plainly.
 */
export async function plainModuleWrapper(
  module: string,
  version: string,
  packages: string[],
  options: { wrapperModule: string; fallbackGo: string; keepUpstreamPins?: boolean; signal?: AbortSignal; missingHint?: string },
): Promise<WrapperModuleSpec> {
  const upstream = await goModDownload(module, version, { signal: options.signal, missingHint: options.missingHint });
  const mod = await readGoMod(upstream.goMod, options.signal);
  const spec: WrapperModuleSpec = {
    module: options.wrapperModule,
    goDirective: mod.Go ?? options.fallbackGo,
    godebug: (mod.GoDebug ?? []).map((d) => `${d.Key}=${d.Value}`),
    require: { [module]: version },
    replace: {},
    packages,
  };
  return options.keepUpstreamPins ? { ...spec, ...upstreamPins(module, version, mod) } : spec;
}

/**
 * Upstream's module replaces and excludes, as wrapper entries. A replace by a local directory is an error:
 * the directory is not in the module zip (a nested module never is) and the proxy serves no such module.
 */
export function upstreamPins(module: string, version: string, mod: GoModJson): Pick<WrapperModuleSpec, 'replace' | 'exclude'> {
  const replace: Record<string, string> = {};
  for (const entry of mod.Replace ?? []) {
    if (!entry.New.Version) {
      throw new StepError(
        `${module}@${version} replaces ${entry.Old.Path} with its own directory ${entry.New.Path}, which is not in the module zip and not a module the proxy serves: this version cannot be built from the proxy`,
        `pin another version of ${module} (one whose go.mod replaces no module by a directory)`,
      );
    }
    replace[entry.Old.Version ? `${entry.Old.Path} ${entry.Old.Version}` : entry.Old.Path] = `${entry.New.Path} ${entry.New.Version}`;
  }
  const exclude = (mod.Exclude ?? []).map((e) => `${e.Path} ${e.Version}`);
  return exclude.length ? { replace, exclude } : { replace };
}

/** Parses a go.mod file with the toolchain itself (no hand-written parser to drift from Go's grammar). */
export async function readGoMod(goModPath: string, signal?: AbortSignal): Promise<GoModJson> {
  const out = await runGo(['mod', 'edit', '-json', goModPath], { signal, cwd: dirname(goModPath) });
  return JSON.parse(out) as GoModJson;
}

/** go.mod text for a wrapper module. */
export function renderWrapperGoMod(spec: WrapperModuleSpec): string {
  const lines = [`// Generated by harder: a wrapper that builds upstream main packages through the module proxy.`, `module ${spec.module}`, '', `go ${spec.goDirective}`, ''];
  for (const setting of spec.godebug) lines.push(`godebug ${setting}`);
  if (spec.godebug.length) lines.push('');
  const requires = Object.entries(spec.require).sort(([a], [b]) => a.localeCompare(b));
  lines.push('require (', ...requires.map(([path, version]) => `\t${path} ${version}`), ')', '');
  const replaces = Object.entries(spec.replace).sort(([a], [b]) => a.localeCompare(b));
  if (replaces.length) lines.push('replace (', ...replaces.map(([path, target]) => `\t${path} => ${target}`), ')', '');
  if (spec.exclude?.length) lines.push('exclude (', ...spec.exclude.map((entry) => `\t${entry}`), ')', '');
  return lines.join('\n');
}

function renderToolsFile(packages: string[]): string {
  const imports = [...packages].sort().map((pkg) => `\t_ "${pkg}"`);
  return ['//go:build tools', '', '// Generated by harder: keeps the main packages in the module graph for `go mod tidy`.', 'package tools', '', 'import (', ...imports, ')', ''].join('\n');
}

const prepared = new Map<string, Promise<void>>();

/**
 * Writes the wrapper module into `dir` and runs `go mod tidy` (downloads through the proxy, writes go.sum).
 * Skipped when `dir` already holds a tidied module for the same spec; concurrent callers share one run.
 */
export function prepareWrapperModule(dir: string, spec: WrapperModuleSpec, options: { signal?: AbortSignal; log?: (line: string) => void; missingHint?: string } = {}): Promise<void> {
  let run = prepared.get(dir);
  if (!run) {
    run = prepare(dir, spec, options);
    prepared.set(dir, run);
    run.catch(() => prepared.delete(dir));
  }
  return run;
}

async function prepare(dir: string, spec: WrapperModuleSpec, options: { signal?: AbortSignal; log?: (line: string) => void; missingHint?: string }): Promise<void> {
  const marker = join(dir, 'harder-spec.json');
  const wanted = JSON.stringify(spec, null, 2);
  if (existsSync(join(dir, 'go.sum')) && (await readFile(marker, 'utf8').catch(() => '')) === wanted) return;
  const outside = Object.keys(spec.sources ?? {}).find((path) => path.startsWith('/') || path.split('/').includes('..'));
  if (outside) throw new StepError(`wrapper source ${outside} is not a path inside the wrapper module`);
  await mkdir(dir, { recursive: true });
  await rm(marker, { force: true });
  await writeFile(join(dir, 'go.mod'), renderWrapperGoMod(spec));
  await writeFile(join(dir, 'tools.go'), renderToolsFile(spec.packages.filter((pkg) => !pkg.startsWith(`${spec.module}/`))));
  for (const [path, content] of Object.entries(spec.sources ?? {})) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  await rm(join(dir, 'go.sum'), { force: true });
  options.log?.(`go mod tidy in ${dir} (fetches ${Object.keys(spec.require).join(', ')} and dependencies through the module proxy)`);
  await runGo(['mod', 'tidy'], { cwd: dir, signal: options.signal, missingHint: options.missingHint });
  // The marker is written last: an interrupted tidy is redone next time.
  await writeFile(marker, wanted);
}

/**
 * The engine pool of targets that compile Go: one at a time, as `go build` uses every core by itself. A
 * target waiting for it holds no job slot, so a download or a debootstrap runs meanwhile; and of the
 * targets waiting, the one on the longest chain (Kubernetes' binaries, which every node waits for)
 * goes first, not the first to ask (an add-on's controller).
 */
export const GO_BUILD_POOL = pool('go build', 1);

/** One `go build` at a time per process: each uses every core, and the second reuses the first's cache. */
let buildQueue: Promise<unknown> = Promise.resolve();

export type GoBuildOptions = {
  /** A prepared wrapper module directory. */
  dir: string;
  /**
   * Main package → where its binary goes. All are built by ONE `go build` (every shared package is
   * compiled once, and the links overlap the compiles), into a temp directory beside the first output and
   * renamed into place only once the whole build succeeded, so a failed build leaves nothing.
   */
  outputs: Record<string, string>;
  ldflags: string[];
  /** Go's name of the CPU to build for (GOARCH, with GOOS=linux); absent: the toolchain's own (the build host's). */
  goarch?: string;
  signal?: AbortSignal;
  /** Progress lines (package counts while compiling, heartbeats while linking). */
  log?: (line: string) => void;
  /** Seconds between progress lines. Default 15. */
  progressEverySeconds?: number;
  missingHint?: string;
};

/**
 * `go build -trimpath -ldflags ... -o <temp dir>/ package...`, with progress lines: how many packages were
 * compiled (go build -v names each one it compiles) out of the packages' dependency count.
 */
export function goBuild(options: GoBuildOptions): Promise<{ seconds: number; compiled: number }> {
  const run = buildQueue.then(() => buildNow(options));
  buildQueue = run.catch(() => undefined);
  return run;
}

/**
 * The file `go build -o dir/` writes for a main package: its path's last element, or for a major-version
 * suffix (`go.etcd.io/etcd/server/v3`) the element before it (`server`), as the go command names it.
 */
export function goBinaryName(pkg: string): string {
  const parts = pkg.split('/');
  const last = parts[parts.length - 1]!;
  return /^v\d+$/.test(last) && parts.length > 1 ? parts[parts.length - 2]! : last;
}

/** `kube-apiserver`, or `kube-apiserver, kubelet and 4 more`: what a progress line says is being built. */
export function buildLabel(packages: string[]): string {
  const names = packages.map(goBinaryName);
  return names.length <= 2 ? names.join(', ') : `${names.slice(0, 2).join(', ')} and ${names.length - 2} more`;
}

/**
 * The -gcflags for a build linked with `ldflags`: where the linker drops the DWARF debug data (-w, as
 * every build here does), the compiler is told not to make it (-dwarf=false). The binary runs the same
 * code (its stack traces come from the pclntab, not DWARF); a cold compile takes a fifth less (CoreDNS
 * v1.12.1, 2 cores, quiet: 95 s → 76 s wall, 151 → 121 s CPU). Where a build keeps DWARF, so does this.
 */
export function gcflagsFor(ldflags: string[]): string[] {
  return ldflags.includes('-w') ? ['-gcflags=all=-dwarf=false'] : [];
}

/** The environment of a build for another CPU: Linux on `goarch` (CGO is off for every build here, so no C cross compiler is needed). */
function crossEnv(goarch: string | undefined): Record<string, string> | undefined {
  return goarch ? { GOOS: 'linux', GOARCH: goarch } : undefined;
}

async function buildNow(options: GoBuildOptions): Promise<{ seconds: number; compiled: number }> {
  options.signal?.throwIfAborted();
  const packages = Object.keys(options.outputs);
  if (packages.length === 0) throw new StepError('go build: no packages to build');
  // `go build -o dir/` names each binary after its package path: two with the same name would collide.
  const names = packages.map(goBinaryName);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) throw new StepError(`go build: two packages build a binary named ${duplicate} (${packages.filter((p) => goBinaryName(p) === duplicate).join(', ')})`);
  const log = options.log ?? (() => {});
  const label = buildLabel(packages) + (options.goarch ? ` for ${options.goarch}` : '');
  const started = Date.now();
  const env = crossEnv(options.goarch);
  const deps = await runGo(['list', '-deps', ...packages], { cwd: options.dir, env, signal: options.signal, missingHint: options.missingHint });
  const total = deps.split('\n').filter(Boolean).length;
  let compiled = 0;
  let last = '';
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  log(`go build ${label}: ${total} packages in the dependency graph; unchanged ones come from the build cache`);
  const timer = setInterval(() => {
    const phase = compiled === 0 ? 'checking the build cache (or linking)' : `compiled ${compiled}/${total} packages (last ${last})`;
    log(`go build ${label}: ${phase}, ${elapsed()} s`);
  }, (options.progressEverySeconds ?? 15) * 1000);
  const temp = join(dirname(Object.values(options.outputs)[0]!), `.go-build-${process.pid}-${Date.now()}`);
  await mkdir(temp, { recursive: true });
  try {
    await runGo(['build', '-v', '-trimpath', ...gcflagsFor(options.ldflags), '-ldflags', options.ldflags.join(' '), '-o', `${temp}/`, ...packages], {
      cwd: options.dir,
      env,
      signal: options.signal,
      missingHint: options.missingHint,
      onLine: (line) => {
        // -v prints one import path per compiled package; anything else (errors) stays in the tail.
        if (/^[\w.\-/~]+$/.test(line)) {
          compiled++;
          last = line;
        }
      },
    });
    for (const [i, pkg] of packages.entries()) {
      const output = options.outputs[pkg]!;
      await mkdir(dirname(output), { recursive: true });
      await rename(join(temp, names[i]!), output);
    }
  } finally {
    clearInterval(timer);
    await rm(temp, { recursive: true, force: true });
  }
  log(`go build ${label}: done in ${elapsed()} s (${compiled} packages compiled, the rest cached)`);
  return { seconds: (Date.now() - started) / 1000, compiled };
}

export type GoTestBuildOptions = {
  /** A prepared wrapper module directory. */
  dir: string;
  /** The package whose test binary to build (`go test -c`), e.g. a Ginkgo suite. */
  package: string;
  /** Where the test binary goes; written to a temp file first and renamed, so a failed build leaves nothing. */
  output: string;
  ldflags: string[];
  signal?: AbortSignal;
  log?: (line: string) => void;
  missingHint?: string;
};

/**
 * `go test -c -trimpath -ldflags ... -o output package`: a test binary (an e2e suite) built with the same
 * caches, flags and one-at-a-time queue as goBuild, with a heartbeat while it compiles and links.
 */
export function goTestBuild(options: GoTestBuildOptions): Promise<{ seconds: number }> {
  const run = buildQueue.then(async () => {
    options.signal?.throwIfAborted();
    const started = Date.now();
    const name = `${options.package.split('/').pop()}.test`;
    const elapsed = () => Math.round((Date.now() - started) / 1000);
    const timer = setInterval(() => options.log?.(`go test -c ${name}: ${elapsed()} s`), 15_000);
    const temp = `${options.output}.tmp-${process.pid}`;
    await mkdir(dirname(options.output), { recursive: true });
    try {
      // -vet=off: go test -c otherwise vets the package, and vet first computes its facts for every dependency
      // (a vet run per package of the whole graph, seen as go test -c's children in a cold e2e.test build); a
      // build of a test binary is not the place to lint it.
      await runGo(['test', '-c', '-vet=off', '-trimpath', ...gcflagsFor(options.ldflags), '-ldflags', options.ldflags.join(' '), '-o', temp, options.package], { cwd: options.dir, signal: options.signal, missingHint: options.missingHint });
      await rename(temp, options.output);
    } finally {
      clearInterval(timer);
      await rm(temp, { force: true });
    }
    options.log?.(`go test -c ${name}: done in ${elapsed()} s`);
    return { seconds: (Date.now() - started) / 1000 };
  });
  buildQueue = run.catch(() => undefined);
  return run;
}
