// The Kubernetes binaries and crictl: one target per binary, from the release files, a directory on
// disk, or a build of the Go module, cached outside the repo under a path keyed by version and source.

import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { alias, target, type AnyTarget, type Target } from '../../lib/engine/target.ts';
import { cachePath } from '../../lib/cache-root.ts';
import { ChecksumMismatchError, downloadVerified, fetchChecksum, fileDigest, joinUrl, parseChecksumFile, probeUrl, type Digest } from '../../lib/download.ts';
import { GO_BUILD_POOL, goBuild, goModDownload, goVersion, plainModuleWrapper, prepareWrapperModule, readGoMod, type WrapperModuleSpec } from '../../lib/go-build.ts';
import type { BinarySource, ClusterConfig, NodeRole } from '../config/config.ts';
import { StepError, ToolMissingError } from '../../lib/errors.ts';
import { runCommand } from '../../lib/run-command.ts';
import { hostArch } from '../../lib/host-arch.ts';
import { elfProblem } from '../../lib/elf.ts';
import { clusterArches } from '../config/arches.ts';

/** The Kubernetes components this project runs, all from one release / one module version. */
export const KUBERNETES_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'kubectl'] as const;
export type KubernetesBinary = (typeof KUBERNETES_BINARIES)[number];
export type BinaryName = KubernetesBinary | 'crictl';

/** A source that actually produced a binary (`auto` resolves to one of these). */
export type ResolvedSource = Exclude<BinarySource, 'auto'>;

/** A binary ready to copy onto nodes. `sha256` is what the probe and the node steps check. */
export type BinaryResult = {
  name: string;
  version: string;
  source: ResolvedSource;
  /** Absolute path in the cache (~/.cache/harder/bin/<version>/<source>/<name>). */
  path: string;
  sha256: string;
};

/** Environment variables the binaries read; part of every binary target's key. */
export const BINARY_ENV = ['HARDER_CACHE', 'HARDER_K8S_RELEASE_URL', 'HARDER_CRICTL_RELEASE_URL', 'HARDER_BINARIES_DIR'] as const;

/** Where release files come from: the official host, or a mirror with the same layout. */
export function kubernetesReleaseBase(env: NodeJS.ProcessEnv = process.env): string {
  return env.HARDER_K8S_RELEASE_URL || 'https://dl.k8s.io';
}

export function crictlReleaseBase(env: NodeJS.ProcessEnv = process.env): string {
  return env.HARDER_CRICTL_RELEASE_URL || 'https://github.com/kubernetes-sigs/cri-tools/releases/download';
}

/**
 * The oldest cri-tools minor the Go module proxy here serves: `go list -m -versions sigs.k8s.io/cri-tools`
 * lists v1.34.0 and v1.37.0 only, so v1.33.0 cannot be built (and neither can any older one).
 */
export const OLDEST_SERVED_CRICTL_MINOR = 34;

/**
 * crictl follows Kubernetes minors: cri-tools v1.N.0 is the release made for Kubernetes 1.N. For an older
 * minor than the proxy serves, the oldest served one: crictl is a client of the CRI (v1, stable since
 * Kubernetes 1.26), not of Kubernetes, and the v1.34 one works against the same containerd 1.6 the nodes
 * run whatever the kubelet's version (a Kubernetes 1.33 node gets crictl v1.34.0).
 */
export function crictlVersionFor(kubernetesVersion: string): string {
  const { minor } = parseVersion(kubernetesVersion);
  return `v1.${Math.max(minor, OLDEST_SERVED_CRICTL_MINOR)}.0`;
}

export function parseVersion(version: string): { major: number; minor: number; patch: number } {
  const match = /^v(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match) throw new BinaryError(`"${version}" is not a release version like v1.34.4`, 'set kubernetesVersion in tasks/config/config.ts to vMAJOR.MINOR.PATCH');
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

/** A binary could not be obtained; the hint says which other source or setting to try. */
export class BinaryError extends StepError {}

/** The architectures Kubernetes publishes Linux binaries for. */
const KUBERNETES_ARCHES = ['amd64', 'arm64', 'arm', 'ppc64le', 's390x'];

/** `arch` (default: the build host's), checked to be one Kubernetes publishes binaries for. */
function goArch(arch: string = hostArch()): string {
  if (!KUBERNETES_ARCHES.includes(arch)) throw new BinaryError(`no Kubernetes binaries for this CPU (${arch})`);
  return arch;
}

/** A node's binaries by role, for an architecture other than the build host's (which gets every binary). */
export const NODE_BINARIES: Record<NodeRole, KubernetesBinary[]> = {
  'control-plane': ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'],
  worker: ['kubelet', 'kube-proxy'],
};

/** What each binary is, how to build it and how it prints its version. */
type BinarySpec = {
  name: BinaryName;
  version: string;
  /** The CPU it is for (Go's name); the build host's unless a node of another asks for it. */
  arch: string;
  /** Module and main package for the go source. */
  goPackage: string;
  /** How to ask the binary its version, and the texts accepted in the answer (checked for every source). */
  versionArgs: string[];
  versionOutput: string[];
};

function binarySpec(name: BinaryName, kubernetesVersion: string, arch: string = hostArch()): BinarySpec {
  if (name === 'crictl') {
    const version = crictlVersionFor(kubernetesVersion);
    // Release builds strip the leading v from the version (cri-tools' Makefile); ours keep it.
    const versionOutput = [`crictl version ${version}`, `crictl version ${version.slice(1)}`];
    return { name, version, arch, goPackage: 'sigs.k8s.io/cri-tools/cmd/crictl', versionArgs: ['--version'], versionOutput };
  }
  const goPackage = `k8s.io/kubernetes/cmd/${name}`;
  // kubectl has no --version flag; the server components print `Kubernetes vX.Y.Z`.
  if (name === 'kubectl') return { name, version: kubernetesVersion, arch, goPackage, versionArgs: ['version', '--client'], versionOutput: [`Client Version: ${kubernetesVersion}`] };
  return { name, version: kubernetesVersion, arch, goPackage, versionArgs: ['--version'], versionOutput: [`Kubernetes ${kubernetesVersion}`] };
}

/**
 * The cached file for a binary: keyed by version and source, so sources never overwrite each other, and
 * for another architecture than the build host's by that too (`linux-arm64/`; the build host's keep the
 * paths they always had).
 */
export function cachedBinaryPath(name: string, version: string, source: ResolvedSource, arch: string = hostArch()): string {
  return arch === hostArch() ? cachePath('bin', version, source, name) : cachePath('bin', version, source, `linux-${arch}`, name);
}

/** Metadata written next to a cached binary; a build is reused only when it matches. */
type CacheMeta = { name: string; version: string; source: ResolvedSource; sha256: string; recipe: string };

async function reuseCached(path: string, recipe: string, log: (line: string) => void): Promise<string | undefined> {
  const meta = JSON.parse(await readFile(`${path}.json`, 'utf8').catch(() => 'null')) as CacheMeta | null;
  if (!meta || meta.recipe !== recipe || !existsSync(path)) return undefined;
  const sha256 = await fileDigest(path);
  if (sha256 !== meta.sha256) return undefined;
  log(`reusing ${path} (in the cache since an earlier run)`);
  return sha256;
}

async function recordCached(path: string, meta: CacheMeta): Promise<void> {
  await writeFile(`${path}.json`, `${JSON.stringify(meta, null, 2)}\n`);
}

/** Runs `<binary> --version` (kubectl: `version --client`) and checks it reports the pinned version. */
export async function checkVersion(path: string, spec: { versionArgs: string[]; versionOutput: string[] }): Promise<void> {
  const output = await runCommand([path, ...spec.versionArgs], { failHint: 'the file is not a working binary for this machine: delete it and build again' });
  if (!spec.versionOutput.some((text) => output.includes(text))) {
    throw new BinaryError(
      `${path} reports "${output.trim().split('\n')[0]}", expected "${spec.versionOutput[0]}"`,
      'the file is another version: replace it, or pin that version in tasks/config/config.ts',
    );
  }
}

/**
 * The check of an obtained binary. One for the build host runs (`checkVersion`); one for another CPU
 * cannot run here, so its ELF header must name that CPU and the file must hold the pinned version
 * string (the -X ldflags put it there; a release build has it too).
 */
export async function checkBinary(path: string, spec: { arch?: string; version: string; versionArgs: string[]; versionOutput: string[] }): Promise<void> {
  if (!spec.arch || spec.arch === hostArch()) return checkVersion(path, spec);
  const problem = await elfProblem(path, spec.arch);
  if (problem) throw new BinaryError(problem, 'delete the file and build again; for the dir source, put that architecture\'s binaries in its directory');
  const bare = spec.version.replace(/^v/, '');
  if (!(await fileContains(path, [spec.version, bare].map((v) => Buffer.from(v))))) {
    throw new BinaryError(`${path} does not contain its pinned version ${spec.version}`, 'the file is another version: replace it, or pin that version in tasks/config/config.ts');
  }
}

/** Whether the file holds any of `needles` (read in chunks that overlap by the longest needle). */
async function fileContains(path: string, needles: Buffer[]): Promise<boolean> {
  const overlap = Math.max(...needles.map((n) => n.length)) - 1;
  let tail = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const window = Buffer.concat([tail, chunk as Buffer]);
    if (needles.some((n) => window.includes(n))) return true;
    tail = window.subarray(Math.max(0, window.length - overlap));
  }
  return false;
}

// ---- source: release -------------------------------------------------------------------------

async function fromRelease(spec: BinarySpec, signal: AbortSignal, log: (line: string) => void): Promise<{ path: string; sha256: string }> {
  const dest = cachedBinaryPath(spec.name, spec.version, 'release', spec.arch);
  const arch = goArch(spec.arch);
  if (spec.name === 'crictl') {
    const file = `crictl-${spec.version}-linux-${arch}.tar.gz`;
    const url = joinUrl(crictlReleaseBase(), `${spec.version}/${file}`);
    const expected = await fetchChecksum(`${url}.sha256`, 'sha256', { fileName: file, signal });
    log(`downloading ${url}`);
    const archive = await downloadVerified({ url, dest: cachePath('downloads', file), expected, signal, onProgress: progressLogger(log, url) });
    await extractFromTarGz(archive.path, 'crictl', dest);
    return { path: dest, sha256: await fileDigest(dest) };
  }
  const url = joinUrl(kubernetesReleaseBase(), `release/${spec.version}/bin/linux/${arch}/${spec.name}`);
  const expected = await fetchChecksum(`${url}.sha256`, 'sha256', { signal });
  log(`downloading ${url}`);
  const result = await downloadVerified({ url, dest, expected, mode: 0o755, signal, onProgress: progressLogger(log, url) });
  return { path: dest, sha256: result.sha256 };
}

/** Logs download progress at most every 10 s. */
function progressLogger(log: (line: string) => void, url: string): (received: number, total: number | undefined) => void {
  let last = Date.now();
  return (received, total) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    log(`${url}: ${mb(received)}${total ? ` of ${mb(total)}` : ''}`);
  };
}

/** Extracts one regular file from a .tar.gz to dest (temp file, then rename). */
async function extractFromTarGz(archive: string, entryName: string, dest: string): Promise<void> {
  const tar = await import('tar-stream');
  const extract = tar.extract();
  const temp = `${dest}.tmp-${process.pid}`;
  await mkdir(dirname(dest), { recursive: true });
  let found = false;
  const done = pipeline(createReadStream(archive), createGunzip(), extract);
  for await (const entry of extract) {
    if (!found && entry.header.type === 'file' && entry.header.name.replace(/^\.\//, '') === entryName) {
      await pipeline(entry, createWriteStream(temp, { mode: 0o755 }));
      found = true;
    } else {
      entry.resume();
    }
  }
  await done;
  if (!found) throw new BinaryError(`${archive} holds no file named ${entryName}`);
  await chmod(temp, 0o755);
  await rename(temp, dest);
}

// ---- source: dir -----------------------------------------------------------------------------

async function fromDir(spec: BinarySpec, signal: AbortSignal, log: (line: string) => void): Promise<{ path: string; sha256: string }> {
  const dir = process.env.HARDER_BINARIES_DIR;
  if (!dir) {
    throw new BinaryError('binary source "dir" needs HARDER_BINARIES_DIR: the directory holding kube-apiserver, kubelet, ...', 'export HARDER_BINARIES_DIR=/path/to/binaries');
  }
  // Another architecture's binaries sit in a subdirectory named after it (HARDER_BINARIES_DIR/arm64/).
  const from = spec.arch === hostArch() ? dir : join(dir, spec.arch);
  const source = join(from, spec.name);
  if (!existsSync(source)) throw new BinaryError(`${source} does not exist`, `put the ${spec.version} ${spec.arch} binaries in ${from}, or use another binary source (--binaries release|go)`);
  const expected = await knownDigest(source, spec, signal);
  const sha256 = await fileDigest(source);
  if (expected) {
    const actual = expected.algorithm === 'sha256' ? sha256 : await fileDigest(source, expected.algorithm);
    if (actual !== expected.hex) throw new ChecksumMismatchError(source, expected, actual);
    log(`${source}: ${expected.algorithm} verified`);
  } else {
    log(`warning: no checksum known for ${source} (no ${spec.name}.sha256 beside it, release host unreachable): accepted unverified`);
  }
  const dest = cachedBinaryPath(spec.name, spec.version, 'dir', spec.arch);
  await mkdir(dirname(dest), { recursive: true });
  const temp = `${dest}.tmp-${process.pid}`;
  await copyFile(source, temp);
  await chmod(temp, 0o755);
  await rename(temp, dest);
  return { path: dest, sha256 };
}

/** The digest a binary in a directory should have: a checksum file beside it, else the release's. */
async function knownDigest(file: string, spec: BinarySpec, signal: AbortSignal): Promise<Digest | undefined> {
  for (const algorithm of ['sha512', 'sha256'] as const) {
    const text = await readFile(`${file}.${algorithm}`, 'utf8').catch(() => undefined);
    const hex = text === undefined ? undefined : parseChecksumFile(text, algorithm, spec.name);
    if (hex) return { algorithm, hex };
  }
  if (spec.name === 'crictl') return undefined; // its release checksums cover the tarball, not the binary
  const url = joinUrl(kubernetesReleaseBase(), `release/${spec.version}/bin/linux/${goArch(spec.arch)}/${spec.name}.sha256`);
  return fetchChecksum(url, 'sha256', { signal, timeoutMs: 3000 }).catch(() => undefined);
}

// ---- source: go ------------------------------------------------------------------------------

export const GO_MISSING_HINT =
  'install Go 1.24+ (https://go.dev/dl/) and put `go` on PATH (or set GO), or use another binary source: ' +
  '`--binaries release` (downloads from dl.k8s.io or HARDER_K8S_RELEASE_URL) or `--binaries dir` with HARDER_BINARIES_DIR';

/** The wrapper module for a Kubernetes version: its staging modules replaced by their published v0.X.Y tags. */
async function kubernetesWrapper(version: string, signal: AbortSignal): Promise<WrapperModuleSpec> {
  const { minor, patch } = parseVersion(version);
  const upstream = await goModDownload('k8s.io/kubernetes', version, { signal, missingHint: GO_MISSING_HINT });
  const mod = await readGoMod(upstream.goMod, signal);
  const replace: Record<string, string> = {};
  for (const entry of mod.Replace ?? []) {
    // Upstream points each staging module at ./staging/src/k8s.io/<m>; outside its repo those are the published tags.
    if (entry.New.Path.startsWith('./staging/')) replace[entry.Old.Path] = `${entry.Old.Path} v0.${minor}.${patch}`;
  }
  return {
    module: 'harder.local/kubernetes-build',
    goDirective: mod.Go ?? '1.24.0',
    godebug: (mod.GoDebug ?? []).map((d) => `${d.Key}=${d.Value}`),
    require: { 'k8s.io/kubernetes': version },
    replace,
    packages: KUBERNETES_BINARIES.map((name) => `k8s.io/kubernetes/cmd/${name}`),
  };
}

function crictlWrapper(version: string, signal: AbortSignal): Promise<WrapperModuleSpec> {
  return plainModuleWrapper('sigs.k8s.io/cri-tools', version, ['sigs.k8s.io/cri-tools/cmd/crictl'], {
    wrapperModule: 'harder.local/cri-tools-build',
    fallbackGo: '1.24.0',
    signal,
    missingHint: GO_MISSING_HINT,
  });
}

/** Version ldflags: without them every component reports v0.0.0 and version-skew checks misbehave. */
export function kubernetesLdflags(version: string, buildDate?: string): string[] {
  const { major, minor } = parseVersion(version);
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(`-X ${pkg}.gitVersion=${version}`, `-X ${pkg}.gitMajor=${major}`, `-X ${pkg}.gitMinor=${minor}`, `-X ${pkg}.gitTreeState=clean`);
    if (buildDate) flags.push(`-X ${pkg}.buildDate=${buildDate}`);
  }
  return flags;
}

async function crictlFromGo(spec: BinarySpec, signal: AbortSignal, log: (line: string) => void): Promise<{ path: string; sha256: string }> {
  const wrapper = await crictlWrapper(spec.version, signal);
  const ldflags = ['-s', '-w', `-X sigs.k8s.io/cri-tools/pkg/version.Version=${spec.version}`];
  return buildGoBinary({ name: spec.name, version: spec.version, wrapper, package: spec.goPackage, ldflags, signal, log });
}

/** How the go source builds Kubernetes `version`: the wrapper module, main package per binary, ldflags. */
export async function kubernetesGoRecipe(version: string, signal: AbortSignal): Promise<Pick<GoBinariesBuild, 'version' | 'wrapper' | 'packages' | 'ldflags'>> {
  const wrapper = await kubernetesWrapper(version, signal);
  const buildDate = (await goModDownload('k8s.io/kubernetes', version, { signal })).time;
  const packages = Object.fromEntries(KUBERNETES_BINARIES.map((name) => [name, binarySpec(name, version).goPackage]));
  return { version, wrapper, packages, ldflags: kubernetesLdflags(version, buildDate) };
}

/** Every Kubernetes binary from the module in ONE `go build`: each shared package compiled once, links overlapping. */
async function kubernetesFromGo(specs: BinarySpec[], signal: AbortSignal, log: (line: string) => void): Promise<Record<string, { path: string; sha256: string }>> {
  const recipe = await kubernetesGoRecipe(specs[0]!.version, signal);
  const packages = Object.fromEntries(specs.map((spec) => [spec.name, recipe.packages[spec.name]!]));
  return buildGoBinaries({ ...recipe, packages, arch: specs[0]!.arch, signal, log });
}

/**
 * Go 1.21+ fetches the toolchain a module asks for by itself (GOTOOLCHAIN=auto); an older Go fails
 * with a confusing go.mod error, so say plainly what is needed.
 */
export function checkToolchain(toolchain: string, goDirective: string): void {
  const have = /^go(\d+)\.(\d+)/.exec(toolchain);
  if (!have) return; // a development toolchain (devel +abc): let go itself decide
  const [major, minor] = [Number(have[1]), Number(have[2])];
  if (major === 1 && minor < 21) {
    throw new ToolMissingError('go', `${toolchain} is too old to build modules that need Go ${goDirective}`, `install Go ${goDirective} or newer; ${GO_MISSING_HINT.replace(/^install Go 1\.24\+ \(https:\/\/go\.dev\/dl\/\) and put `go` on PATH \(or set GO\), or /, '')}`);
  }
}

export type GoBinariesBuild = {
  version: string;
  wrapper: WrapperModuleSpec;
  /** Binary name → its main package (all in `wrapper`'s module graph). */
  packages: Record<string, string>;
  ldflags: string[];
  /** The CPU to build for; absent: the build host's. */
  arch?: string;
  signal: AbortSignal;
  log: (line: string) => void;
};

/**
 * Builds main packages into the binary cache (bin/<version>/go/<name>) with one `go build` for all that
 * are stale, reusing each cached file that was built by the same recipe (toolchain, wrapper module,
 * package, ldflags) and is intact. The recipe is per binary and the same whether it was built alone or
 * with others (the output does not depend on it), so a cache filled either way is reused.
 */
export async function buildGoBinaries(options: GoBinariesBuild): Promise<Record<string, { path: string; sha256: string }>> {
  const { version, wrapper, signal, log } = options;
  const arch = options.arch ?? hostArch();
  // A cross build says so in its recipe; one for the build host keeps the recipe (and cache) it always had.
  const goarch = arch === hostArch() ? {} : { goarch: goArch(arch) };
  const toolchain = await goVersion(GO_MISSING_HINT);
  checkToolchain(toolchain, wrapper.goDirective);
  const built: Record<string, { path: string; sha256: string }> = {};
  const stale: { name: string; pkg: string; dest: string; recipe: string }[] = [];
  for (const [name, pkg] of Object.entries(options.packages)) {
    const dest = cachedBinaryPath(name, version, 'go', arch);
    // The recipe names everything that shapes the binary; a cached file built another way is rebuilt.
    const recipe = JSON.stringify({ toolchain, wrapper, package: pkg, ldflags: options.ldflags, cgo: 0, trimpath: true, ...goarch });
    const reused = await reuseCached(dest, recipe, log);
    if (reused) built[name] = { path: dest, sha256: reused };
    else stale.push({ name, pkg, dest, recipe });
  }
  if (stale.length === 0) return built;
  const dir = cachePath('go', 'work', `${wrapper.module.split('/').pop()}-${version}`);
  await prepareWrapperModule(dir, wrapper, { signal, log, missingHint: GO_MISSING_HINT });
  log(`building ${stale.map((s) => s.name).join(', ')} ${version}${goarch.goarch ? ` for ${arch}` : ''} with ${toolchain} in one go build (minutes on a cold build cache)`);
  const outputs = Object.fromEntries(stale.map((s) => [s.pkg, s.dest]));
  await goBuild({ dir, outputs, ldflags: options.ldflags, ...goarch, signal, log, missingHint: GO_MISSING_HINT });
  for (const { name, dest, recipe } of stale) {
    const sha256 = await fileDigest(dest);
    await recordCached(dest, { name, version, source: 'go', sha256, recipe });
    built[name] = { path: dest, sha256 };
  }
  return built;
}

/** One main package into the binary cache (crictl, CoreDNS): `buildGoBinaries` with one package. */
export async function buildGoBinary(options: Omit<GoBinariesBuild, 'packages'> & { name: string; package: string }): Promise<{ path: string; sha256: string }> {
  const built = await buildGoBinaries({ ...options, packages: { [options.name]: options.package } });
  return built[options.name]!;
}

// ---- source choice ---------------------------------------------------------------------------

/** One reachability check per release URL and process, shared by every binary target. */
const autoChoices = new Map<string, Promise<ResolvedSource>>();

/** `auto`: the release files when their host answers within a few seconds, else a build from source. */
function resolveAuto(version: string, arch: string, log: (line: string) => void): Promise<ResolvedSource> {
  const url = joinUrl(kubernetesReleaseBase(), `release/${version}/bin/linux/${goArch(arch)}/kubectl.sha256`);
  let choice = autoChoices.get(url);
  if (choice) return choice;
  choice = (async (): Promise<ResolvedSource> => {
    const probe = await probeUrl(url, 3000);
    if (probe.ok) {
      log(`binary source auto: ${new URL(url).host} answers, using the release files`);
      return 'release';
    }
    log(`binary source auto: ${new URL(url).host} is unreachable (${probe.reason}); building from the Go module instead`);
    return 'go';
  })();
  autoChoices.set(url, choice);
  return choice;
}

/**
 * Obtains binaries from the configured source, checks their versions, and describes them. From release
 * files or a directory each is fetched or copied on its own (in parallel); from the Go module the
 * Kubernetes binaries come from one `go build`.
 */
async function obtain(specs: BinarySpec[], config: ClusterConfig, signal: AbortSignal, log: (line: string) => void): Promise<BinaryResult[]> {
  const source = config.binarySource;
  const resolved = source === 'auto' ? await resolveAuto(config.kubernetesVersion, specs[0]!.arch, log) : source;
  let got: { path: string; sha256: string }[];
  if (resolved === 'release') got = await Promise.all(specs.map((spec) => fromRelease(spec, signal, log)));
  else if (resolved === 'dir') got = await Promise.all(specs.map((spec) => fromDir(spec, signal, log)));
  else if (specs.length === 1 && specs[0]!.name === 'crictl') got = [await crictlFromGo(specs[0]!, signal, log)];
  else {
    const built = await kubernetesFromGo(specs, signal, log);
    got = specs.map((spec) => built[spec.name]!);
  }
  await Promise.all(specs.map((spec, i) => checkBinary(got[i]!.path, spec)));
  return specs.map((spec, i) => ({ name: spec.name, version: spec.version, source: resolved, path: got[i]!.path, sha256: got[i]!.sha256 }));
}

/** The probe: the cached file is still there with the recorded sha256 (the cache lives outside output/). */
export async function probeBinary(result: BinaryResult): Promise<string | undefined> {
  if (!existsSync(result.path)) return `${result.path} is gone from the cache`;
  // Hashing six ~80 MB binaries took ~1 s of every no-op run: trust a digest recorded for this exact
  // file (size, mtime, inode unchanged) and hash only when the file was touched since.
  const stampFile = `${result.path}.stamp.json`;
  const stats = await stat(result.path);
  const stamp = { size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino, sha256: result.sha256 };
  const recorded = await readFile(stampFile, 'utf8').then((t) => JSON.parse(t) as typeof stamp, () => undefined);
  if (recorded && JSON.stringify(recorded) === JSON.stringify(stamp)) return undefined;
  const sha256 = await fileDigest(result.path);
  if (sha256 !== result.sha256) return `${result.path} changed (sha256 ${sha256.slice(0, 12)}…, expected ${result.sha256.slice(0, 12)}…)`;
  await writeFile(stampFile, `${JSON.stringify(stamp)}\n`).catch(() => undefined);
  return undefined;
}

/** The result of `bin:kubernetes`: every Kubernetes binary, by name. */
export type KubernetesBinariesResult = Record<KubernetesBinary, BinaryResult>;

/** The Go build pool for a source that compiles (go, or auto, which compiles where the release host is unreachable). */
function compiles(config: ClusterConfig): { pool?: typeof GO_BUILD_POOL } {
  return config.binarySource === 'go' || config.binarySource === 'auto' ? { pool: GO_BUILD_POOL } : {};
}

/**
 * `bin:kubernetes` obtains the six Kubernetes binaries together (from the Go module: one `go build`, so
 * each shared package is compiled once and the links overlap), and one target per binary (`bin:kubelet`,
 * …) hands on its entry, so every dependent reads the same `BinaryResult` as before and rebuilds only
 * when its own binary changed (early cutoff). `bin:crictl` is its own module and target; the alias
 * `binaries` names them all.
 */
export function binariesTargets(config: ClusterConfig) {
  const specs = KUBERNETES_BINARIES.map((name) => binarySpec(name, config.kubernetesVersion));
  const inputs = { values: { version: config.kubernetesVersion, binarySource: config.binarySource }, env: [...BINARY_ENV] };
  const kubernetes = target({
    name: 'bin:kubernetes',
    description: `the Kubernetes ${config.kubernetesVersion} binaries together (source: ${config.binarySource}; go: one go build), cached in ~/.cache/harder/bin`,
    deps: {},
    version: 1,
    inputs,
    ...compiles(config),
    build: async (ctx): Promise<KubernetesBinariesResult> => {
      const results = await obtain(specs, config, ctx.signal, ctx.log);
      return Object.fromEntries(results.map((result) => [result.name, result])) as KubernetesBinariesResult;
    },
    probe: async (result) => {
      for (const name of KUBERNETES_BINARIES) {
        const reason = result[name] ? await probeBinary(result[name]) : `no ${name} in the recorded result`;
        if (reason) return reason;
      }
      return undefined;
    },
    // No clean: the cache outlives clusters on purpose (rebuilding costs minutes); `rm -rf ~/.cache/harder/bin` resets it.
  });
  const pick = (spec: BinarySpec) =>
    target({
      name: `bin:${spec.name}`,
      description: `${spec.name} ${spec.version} (source: ${config.binarySource}), cached in ~/.cache/harder/bin`,
      deps: { kubernetes },
      version: 2,
      // Its file is checked by bin:kubernetes's probe; this target only names one entry of that result.
      build: async (ctx): Promise<BinaryResult> => ctx.deps.kubernetes[spec.name as KubernetesBinary],
    });
  const [kubeApiserver, kubeControllerManager, kubeScheduler, kubelet, kubeProxy, kubectl] = specs.map(pick) as [
    ReturnType<typeof pick>, ReturnType<typeof pick>, ReturnType<typeof pick>, ReturnType<typeof pick>, ReturnType<typeof pick>, ReturnType<typeof pick>,
  ];
  const crictlSpec = binarySpec('crictl', config.kubernetesVersion);
  const crictl = target({
    name: 'bin:crictl',
    description: `crictl ${crictlSpec.version} (source: ${config.binarySource}), cached in ~/.cache/harder/bin`,
    deps: {},
    version: 1,
    inputs: { values: { version: crictlSpec.version, binarySource: config.binarySource }, env: [...BINARY_ENV] },
    ...compiles(config),
    build: async (ctx): Promise<BinaryResult> => (await obtain([crictlSpec], config, ctx.signal, ctx.log))[0]!,
    probe: async (result) => probeBinary(result),
  });
  const foreign = foreignBinariesTargets(config);
  const list = [kubeApiserver, kubeControllerManager, kubeScheduler, kubelet, kubeProxy, kubectl, crictl, ...foreign.all];
  const binaries = alias('binaries', 'Every Kubernetes binary and crictl, from the configured source', list);
  return { kubernetes, kubeApiserver, kubeControllerManager, kubeScheduler, kubelet, kubeProxy, kubectl, crictl, byArch: foreign.byArch, binaries, all: [kubernetes, ...list, binaries] };
}

/**
 * For each architecture of nodes other than the build host's: `bin:kubernetes@<arch>` cross-builds (or
 * fetches) the binaries those nodes run, no others (an arm64 control plane needs no kubelet), and
 * `bin:<name>@<arch>` hands on one each. kubectl and crictl run on the build host only.
 */
function foreignBinariesTargets(config: ClusterConfig) {
  const buildArch = hostArch();
  const byArch: Record<string, Partial<Record<KubernetesBinary, Target<BinaryResult, any>>>> = {}; // eslint-disable-line @typescript-eslint/no-explicit-any
  const all: AnyTarget[] = [];
  for (const arch of clusterArches(config).filter((a) => a !== buildArch)) {
    const names = KUBERNETES_BINARIES.filter((name) => (['control-plane', 'worker'] as const).some((role) => clusterArches(config, role).includes(arch) && NODE_BINARIES[role].includes(name)));
    const specs = names.map((name) => binarySpec(name, config.kubernetesVersion, arch));
    const together = target({
      name: `bin:kubernetes@${arch}`,
      description: `the Kubernetes ${config.kubernetesVersion} binaries the ${arch} nodes run (${names.join(', ')}; source: ${config.binarySource}), cached in ~/.cache/harder/bin`,
      deps: {},
      version: 1,
      inputs: { values: { version: config.kubernetesVersion, binarySource: config.binarySource, arch, binaries: names }, env: [...BINARY_ENV] },
      ...compiles(config),
      build: async (ctx): Promise<Partial<KubernetesBinariesResult>> => Object.fromEntries((await obtain(specs, config, ctx.signal, ctx.log)).map((r) => [r.name, r])),
      probe: async (result) => {
        for (const name of names) {
          const reason = result[name] ? await probeBinary(result[name]) : `no ${name} in the recorded result`;
          if (reason) return reason;
        }
        return undefined;
      },
    });
    all.push(together);
    byArch[arch] = {};
    for (const name of names) {
      const pick = target({
        name: `bin:${name}@${arch}`,
        description: `${name} ${config.kubernetesVersion} for ${arch} nodes, from bin:kubernetes@${arch}`,
        deps: { together },
        version: 1,
        build: async (ctx): Promise<BinaryResult> => ctx.deps.together[name]!,
      });
      byArch[arch][name] = pick;
      all.push(pick);
    }
  }
  return { byArch, all };
}
