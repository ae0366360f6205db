// `host:kubeconfig`: the admin credentials merged into the user's own kubeconfig ($KUBECONFIG or
// ~/.kube/config) as cluster, user and context `harder-<clusterName>`, made current, so a plain
// `kubectl get nodes` works in a new shell, as after `kind create cluster`. Part of `cluster` unless the
// spec says `mergeKubeconfig: false` (or the run has --no-kubeconfig): then it is not even registered,
// and nothing reads or writes the user's file. Cleaning the cluster (`clean:nodes`, or this target)
// takes exactly these three entries out again.
//
// The server, CA and client credentials are copied from output/kubeconfig/admin.kubeconfig, the one
// place they are decided (tasks/certs/kubeconfig.ts): whatever server the admin kubeconfig names, the
// merged context follows, since that file's content is part of this target's key.

import { existsSync, lstatSync, mkdirSync, openSync, closeSync, readFileSync, realpathSync, unlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { readStoredResult, target, type AnyTarget, type Target } from '../../lib/engine/index.ts';
import { StepError } from '../../lib/errors.ts';
import type { ClusterConfig } from '../config/config.ts';
import { kubeconfigPath, type KubeconfigResult } from './kubeconfig.ts';
import { STATE_DIR } from '../config/clusters.ts';

export const HOST_KUBECONFIG_TARGET = 'host:kubeconfig';

export type HostKubeconfigResult = {
  /** The file merged into (absolute). */
  file: string;
  /** The context (and cluster and user) name. */
  context: string;
  server: string;
  /** sha256 of the file as this build left it: unchanged since, the probe needs not parse it. */
  sha256: string;
  /** entryDigest of the merged entries: what the probe compares when the file changed around them. */
  digest: string;
  /** False when $KUBECONFIG is one of this project's own kubeconfigs (under output/): nothing to merge. */
  merged: boolean;
};

/** $KUBECONFIG names a file under output/ itself (an exported admin kubeconfig, of any cluster): never edit ours. */
function isOwnKubeconfig(file: string, root: string): boolean {
  const own = resolve(root, STATE_DIR);
  const real = existsSync(file) ? realpathSync(file) : file;
  const ownReal = existsSync(own) ? realpathSync(own) : own;
  return real.startsWith(`${ownReal}/`) || file.startsWith(`${own}/`);
}

/** The context, cluster and user name of a cluster in the user's kubeconfig (kind says kind-<name>). */
export const hostContextName = (config: Pick<ClusterConfig, 'clusterName'>): string => `harder-${config.clusterName}`;

/**
 * The file kubectl merges new entries into, by its own rule (client-go's PathOptions.GetDefaultFilename):
 * with $KUBECONFIG (a ':'-separated list, empty entries skipped) of one path, that path; of several, the
 * first that exists, else the last; without it, ~/.kube/config. Relative paths are from `cwd`, as for
 * kubectl. The first existing file of the list is also the one whose current-context wins.
 */
export function userKubeconfigPath(env: Record<string, string | undefined> = process.env, home = homedir(), cwd = process.cwd(), exists: (path: string) => boolean = existsSync): string {
  const paths = (env.KUBECONFIG ?? '').split(':').filter((part) => part !== '').map((part) => resolve(cwd, part));
  if (paths.length === 1) return paths[0]!;
  if (paths.length > 1) return paths.find(exists) ?? paths[paths.length - 1]!;
  return resolve(env.HOME || home, '.kube', 'config');
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A symlinked kubeconfig (dotfiles repos) is edited where it points, so the link stays a link. */
function realFile(file: string): string {
  const link = lstatSync(file, { throwIfNoEntry: false });
  if (!link?.isSymbolicLink()) return file;
  try {
    return realpathSync(file);
  } catch {
    throw new StepError(`${file} is a symbolic link to a missing file; it was left as it is`, `point it at a file (or remove it), then run again`);
  }
}

/**
 * Edits a user's kubeconfig under kubectl's own lock (`<file>.lock`, created exclusively, as client-go
 * does), so a concurrent `kubectl config use-context` neither loses our write nor has its own lost. `edit`
 * gets the text (undefined: no file) and returns the new one, or undefined to leave the file untouched.
 * The write is atomic (temp + rename), mode 0600; a missing parent directory is made 0700.
 */
export async function editUserKubeconfig(file: string, edit: (text: string | undefined) => string | undefined): Promise<{ text: string | undefined; written: boolean }> {
  const real = realFile(file);
  mkdirSync(dirname(real), { recursive: true, mode: 0o700 });
  const lock = `${real}.lock`;
  let fd: number | undefined;
  for (let attempt = 0; fd === undefined; attempt++) {
    try {
      fd = openSync(lock, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (attempt >= 20) throw new StepError(`${lock} exists: another program (kubectl) is writing ${real}, or one was killed while it did`, `if no kubectl is running, remove ${lock} and run again`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    let text: string | undefined;
    try {
      text = readFileSync(real, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const next = edit(text);
    if (next === undefined || next === text) return { text, written: false };
    const { writeFileAtomic } = await import('../../lib/engine/atomic.ts');
    writeFileAtomic(real, next, 0o600);
    return { text: next, written: true };
  } finally {
    closeSync(fd);
    unlinkSync(lock);
  }
}

/**
 * Takes the cluster's cluster, user and context out of the user's kubeconfig (and current-context, when
 * it was ours): of the file recorded by the last merge and of the file kubectl would use now. Leaves
 * everything else, and a file it cannot parse, untouched (the latter is an error naming the file).
 */
export async function removeHostContext(config: Pick<ClusterConfig, 'clusterName'>, ctx: { root: string; outDir: string; log: (line: string) => void }): Promise<string[]> {
  const { outDir, log } = ctx;
  const { removeFromKubeconfig } = await import('./kubeconfig-merge.ts');
  const name = hostContextName(config);
  const recorded = readStoredResult(outDir, HOST_KUBECONFIG_TARGET) as HostKubeconfigResult | undefined;
  const files = [...new Set([recorded?.file, userKubeconfigPath()].filter((f): f is string => typeof f === 'string'))];
  const done: string[] = [];
  for (const file of files) {
    if (!existsSync(file) || isOwnKubeconfig(file, ctx.root)) continue;
    // Not even locked when our name is nowhere in it (the usual case for a cluster that never merged).
    if (!readFileSync(file, 'utf8').includes(name)) continue;
    let removed: string[] = [];
    await editUserKubeconfig(file, (text) => {
      if (text === undefined) return undefined;
      const out = removeFromKubeconfig(text, file, name);
      removed = out.removed;
      return out.text;
    });
    if (removed.length) {
      log(`removed ${removed.join(', ')} from ${file}`);
      done.push(`${name} from ${file}`);
    }
  }
  return done;
}

// `any` deps: the admin kubeconfig target's own deps do not matter here, only its result.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HostKubeconfigDeps = { admin: Target<KubeconfigResult, any>; apiserverReady: AnyTarget };

/** `host:kubeconfig`, after the API server answers (so the context works as soon as it appears). */
export function hostKubeconfigTarget(config: ClusterConfig, deps: HostKubeconfigDeps, file: string = userKubeconfigPath()) {
  const name = hostContextName(config);
  return target({
    name: HOST_KUBECONFIG_TARGET,
    description: `Context ${name} (the admin kubeconfig) merged into $KUBECONFIG or ~/.kube/config and made current (opt out: mergeKubeconfig: false, --no-kubeconfig)`,
    deps: { admin: deps.admin, apiserverReady: deps.apiserverReady },
    // The file is part of the key: another $KUBECONFIG (or HOME) merges into that file.
    inputs: { values: { file, context: name } },
    version: 1,
    build: async (ctx): Promise<HostKubeconfigResult> => {
      const { entryDigest, entryFromKubeconfig, mergeKubeconfig } = await import('./kubeconfig-merge.ts');
      const adminFile = resolve(ctx.root, ctx.deps.admin.path);
      const entry = entryFromKubeconfig(readFileSync(adminFile, 'utf8'), adminFile, name);
      if (isOwnKubeconfig(file, ctx.root)) {
        ctx.log(`$KUBECONFIG is ${file}, this project's own: kubectl uses it already, nothing merged`);
        return { file, context: name, server: entry.server, sha256: '', digest: '', merged: false };
      }
      const { text } = await editUserKubeconfig(file, (current) => mergeKubeconfig(current, file, entry, true));
      ctx.log(`context ${name} (server ${entry.server}) merged into ${file} and made current`);
      return { file, context: name, server: entry.server, sha256: sha256(text ?? ''), digest: entryDigest(entry), merged: true };
    },
    // Read-only. A file unchanged since the merge needs no parsing (a no-op run stays cheap); a changed
    // one is drift only when our entries went or changed: another context made current is the user's choice.
    probe: async (result) => {
      if (!result.merged) return undefined;
      let text: string;
      try {
        text = readFileSync(result.file, 'utf8');
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${result.file} no longer exists` : `${result.file} cannot be read (${(error as Error).message})`;
      }
      if (sha256(text) === result.sha256) return undefined;
      const { entryDrift } = await import('./kubeconfig-merge.ts');
      try {
        return entryDrift(text, result.file, result.context, result.digest);
      } catch (error) {
        // A build would refuse it too, naming the file: say why it runs.
        return (error as Error).message;
      }
    },
    clean: async (_result, ctx) => {
      await removeHostContext(config, ctx);
    },
  });
}

/** The lines after a successful `cluster` that say how to use kubectl now (see tasks/index.ts projectNotes). */
export function kubectlHint(config: ClusterConfig, merged: HostKubeconfigResult | undefined, program: string): string[] {
  // A cluster chosen with --name needs it again to find its own state.
  const passthrough = `${program}${config.stateDir ? ` --name ${config.clusterName}` : ''} kubectl get nodes`;
  if (!merged) return [`kubectl: ${passthrough} (the built kubectl with ${kubeconfigPath(config, 'admin')}); your kubeconfig is left alone (mergeKubeconfig: false)`];
  if (!merged.merged) return [`kubectl: $KUBECONFIG is ${merged.file}: kubectl get nodes works now (no kubectl on PATH? ${passthrough})`];
  let current: string | undefined;
  try {
    current = /^current-context:[ \t]*["']?([^"'\s#]*)/m.exec(readFileSync(merged.file, 'utf8'))?.[1];
  } catch {
    current = undefined;
  }
  const name = hostContextName(config);
  if (current === name) return [`kubectl: context ${name} is current in ${merged.file}: kubectl get nodes works now (no kubectl on PATH? ${passthrough})`];
  return [`kubectl: context ${name} is in ${merged.file} (current: ${current || 'none'}): kubectl --context ${name} get nodes, or ${passthrough}`];
}
