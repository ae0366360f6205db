// One certificate from files to files: read request + signing config (+ signer), keep or make the key,
// issue, and replace cert and key together only after everything validated.

import { chmod, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PkiInputError } from './errors.ts';
import { loadSigner } from './inspect.ts';
import { issueCertificate, type IssuedCert } from './issue.ts';
import { sameKeySpec, type KeySpec } from './key-spec.ts';
import { generateKeyPair, loadPrivateKeyPem, privateKeyToPem } from './keys.ts';
import { readIfExists, replaceFiles } from './files.ts';
import { parseCertRequest, resolveRequest, type RequestVariables, type ResolvedRequest } from './request.ts';
import { parseSigningConfig, profileOf } from './signing-config.ts';

/** Paths are relative to `root`; they are reported as given so messages match what the user sees in the tree. */
export type IssueToFilesOptions = {
  root: string;
  request: string;
  vars?: RequestVariables;
  signingConfig: string;
  profile: string;
  /** Used when the request config has no `key` field. */
  defaultKey: KeySpec;
  cert: string;
  key: string;
  /** The CA's certificate and key paths; absent for a self-signed CA. */
  signer?: { cert: string; key: string };
  now?: Date;
};

export type IssueToFilesResult = IssuedCert & { request: ResolvedRequest; keySpec: KeySpec; keyReused: boolean };

export async function readInput(root: string, file: string, what: string): Promise<string> {
  try {
    return await readFile(resolve(root, file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new PkiInputError(file, undefined, `is missing (${what})`);
    throw error;
  }
}

/**
 * Issues a certificate. The existing key is kept when it is readable and of the requested algorithm and
 * size: re-issuing (a forced rebuild, a changed SAN) renews the certificate as `kubeadm certs renew` does,
 * and files that embed or pin the key stay valid. A key is replaced only when it is missing, unreadable,
 * or of another algorithm; to rotate one, delete it (clean the target).
 */
export async function issueToFiles(options: IssueToFilesOptions): Promise<IssueToFilesResult> {
  const { root } = options;
  const signing = parseSigningConfig(await readInput(root, options.signingConfig, 'signing config'), options.signingConfig);
  const profile = profileOf(signing, options.profile);
  const request = resolveRequest(parseCertRequest(await readInput(root, options.request, 'request config'), options.request), options.vars);
  if (!options.signer && !profile.isCa) {
    throw new PkiInputError(options.signingConfig, `signing.profiles.${profile.name}`, 'is not a CA profile, so it cannot make the self-signed certificate for ' + options.request);
  }
  if (options.signer && profile.isCa) {
    throw new PkiInputError(options.signingConfig, `signing.profiles.${profile.name}`, `is a CA profile; ${options.request} is a leaf certificate`);
  }
  const signer = options.signer
    ? await loadSigner(await readInput(root, options.signer.cert, 'CA certificate'), options.signer.cert, await readInput(root, options.signer.key, 'CA key'), options.signer.key)
    : undefined;
  const keySpec = request.key ?? options.defaultKey;
  let keys: CryptoKeyPair | undefined;
  const existing = await readIfExists(resolve(root, options.key));
  if (existing !== undefined) {
    try {
      const loaded = await loadPrivateKeyPem(existing, options.key);
      if (sameKeySpec(loaded.spec, keySpec)) keys = loaded.keys;
    } catch (error) {
      if (!(error instanceof PkiInputError)) throw error;
    }
  }
  const keyReused = keys !== undefined;
  keys ??= await generateKeyPair(keySpec);
  const issued = await issueCertificate({ request, profile, keys, keySpec, ...(signer ? { signer } : {}), ...(options.now ? { now: options.now } : {}) });
  const writes = [{ path: resolve(root, options.cert), data: issued.certPem, mode: 0o644 }];
  if (!keyReused) writes.unshift({ path: resolve(root, options.key), data: await privateKeyToPem(keys.privateKey), mode: 0o600 });
  await replaceFiles(writes);
  if (keyReused) await chmod(resolve(root, options.key), 0o600);
  return { ...issued, request, keySpec, keyReused };
}
