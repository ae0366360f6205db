// A bare signing key pair (no certificate) kept across runs, such as a token-signing key.

import { chmod } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { readIfExists, replaceFiles } from './files.ts';
import { sameKeySpec, type KeySpec } from './key-spec.ts';
import { generateKeyPair, loadPrivateKeyPem, privateKeyToPem, publicKeyToPem } from './keys.ts';

export type KeyPairFilesResult = { publicKeyPem: string; sha256: string; reused: boolean };

/**
 * Ensures `key` holds a private key of `spec` and `pub` its public key. An existing key of the right
 * spec is kept (a new one would invalidate everything signed with the old one); the public half is
 * always re-derived so a deleted or edited `pub` heals. `sha256` is of the public key (SPKI DER).
 */
export async function ensureKeyPairFiles(root: string, key: string, pub: string, spec: KeySpec): Promise<KeyPairFilesResult> {
  const existing = await readIfExists(resolve(root, key));
  let loaded = undefined;
  if (existing !== undefined) {
    try {
      const candidate = await loadPrivateKeyPem(existing, key);
      if (sameKeySpec(candidate.spec, spec)) loaded = candidate;
    } catch {
      // unreadable: replaced below, as a missing key would be
    }
  }
  const reused = loaded !== undefined;
  const keys = loaded?.keys ?? (await generateKeyPair(spec));
  const publicKeyPem = await publicKeyToPem(keys.publicKey);
  const writes = [{ path: resolve(root, pub), data: publicKeyPem, mode: 0o644 }];
  if (!reused) writes.unshift({ path: resolve(root, key), data: await privateKeyToPem(keys.privateKey), mode: 0o600 });
  await replaceFiles(writes);
  if (reused) await chmod(resolve(root, key), 0o600);
  const spki = new Uint8Array(await globalThis.crypto.subtle.exportKey('spki', keys.publicKey));
  return { publicKeyPem, sha256: createHash('sha256').update(spki).digest('hex'), reused };
}
