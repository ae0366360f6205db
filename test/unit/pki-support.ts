// Shared by the PKI tests: temp project roots with a copy of csr/, building the certs targets without
// touching the repo's output/, and small wrappers around the real openssl/kubectl binaries.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyTarget, Json } from '../../lib/engine/target.ts';
import { defaultConfig, defaultNodes, type ClusterConfig } from '../../tasks/config/config.ts';
import { certsStep } from '../../tasks/certs/index.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A fresh project root holding a copy of the repo's csr/ directory. */
export function tempRoot(prefix = 'harder-pki-'): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  cpSync(join(REPO, 'csr'), join(root, 'csr'), { recursive: true });
  return root;
}

export function removeRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

export function configWith(overrides: Partial<ClusterConfig> & { workers?: number; controlPlanes?: number } = {}): ClusterConfig {
  const { workers, controlPlanes, ...rest } = overrides;
  const nodes = workers !== undefined || controlPlanes !== undefined ? defaultNodes({ controlPlanes: controlPlanes ?? 1, workers: workers ?? 2 }) : defaultConfig.nodes;
  return { ...defaultConfig, nodes, ...rest };
}

/**
 * Runs build functions directly in dependency order (each target once), for tests about what the
 * builds produce. Tests about incremental behaviour go through the engine's runBuild instead.
 */
export async function buildDirect(config: ClusterConfig, root: string, requested = 'certs'): Promise<Map<string, Json>> {
  const targets: AnyTarget[] = certsStep(config, planIps(config)).all;
  const running = new Map<string, Promise<Json>>();
  const results = new Map<string, Json>();
  const run = (t: AnyTarget): Promise<Json> => {
    let promise = running.get(t.name);
    if (!promise) {
      promise = (async () => {
        const deps: Record<string, Json> = {};
        for (const [alias, dep] of Object.entries(t.deps as Record<string, AnyTarget>)) deps[alias] = await run(dep);
        const result: Json = t.build
          ? await t.build({ deps, root, outDir: join(root, 'output'), signal: new AbortController().signal, log: () => {}, previous: undefined, reason: 'test' })
          : null;
        results.set(t.name, result);
        return result;
      })();
      running.set(t.name, promise);
    }
    return promise;
  };
  const wanted = targets.find((t) => t.name === requested);
  if (!wanted) throw new Error(`no target ${requested}`);
  await run(wanted);
  return results;
}

export type Run = { status: number; stdout: string; stderr: string };

/** Runs a real binary (argv array, no shell). */
export function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Run {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd: options.cwd, env: options.env ?? process.env, input: options.input, timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export type OpensslCert = { subject: string; issuer: string; sans: string[]; keyUsage: string; extKeyUsage: string; basicConstraints: string; publicKey: string; ski: string; aki: string };

/** `openssl x509 -text -noout`, reduced to the lines the tests compare. */
export function opensslText(certFile: string): OpensslCert {
  const out = run('openssl', ['x509', '-in', certFile, '-noout', '-text', '-nameopt', 'RFC2253']);
  if (out.status !== 0) throw new Error(`openssl x509 failed on ${certFile}: ${out.stderr}`);
  const lines = out.stdout.split('\n').map((l) => l.trim());
  const after = (header: string) => {
    const i = lines.findIndex((l) => l.startsWith(header));
    return i === -1 ? '' : lines[i + 1]!;
  };
  const field = (prefix: string) => (lines.find((l) => l.startsWith(prefix)) ?? '').slice(prefix.length).trim();
  return {
    subject: field('Subject:'),
    issuer: field('Issuer:'),
    sans: after('X509v3 Subject Alternative Name')
      .split(', ')
      .filter(Boolean)
      .map((s) => s.replace('IP Address:', 'IP:')),
    keyUsage: after('X509v3 Key Usage'),
    extKeyUsage: after('X509v3 Extended Key Usage'),
    basicConstraints: after('X509v3 Basic Constraints'),
    ski: after('X509v3 Subject Key Identifier'),
    aki: after('X509v3 Authority Key Identifier').replace(/^keyid:/, ''),
    publicKey: field('Public Key Algorithm:') + ' ' + (lines.find((l) => /^(Public-Key|RSA Public-Key): \(/.test(l)) ?? ''),
  };
}
