// Private keys: generation with WebCrypto, PKCS#8 PEM export, and loading a PEM key back as a key pair.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { PkiInputError } from './errors.ts';
import type { KeySpec } from './key-spec.ts';
import { toPem } from './pem.ts';

const { subtle } = globalThis.crypto;

/** The WebCrypto algorithm for signing with a key of this spec (SHA-384 goes with P-384, as usual). */
export function signingAlgorithm(spec: KeySpec): RsaHashedImportParams | EcKeyImportParams {
  if (spec.algo === 'ecdsa') return { name: 'ECDSA', namedCurve: `P-${spec.size}`, hash: spec.size === 384 ? 'SHA-384' : 'SHA-256' } as EcKeyImportParams;
  return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

/** Generates an extractable key pair (extractable so it can be written out as PEM). */
export async function generateKeyPair(spec: KeySpec): Promise<CryptoKeyPair> {
  const algorithm =
    spec.algo === 'ecdsa'
      ? { name: 'ECDSA', namedCurve: `P-${spec.size}` }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: spec.size, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  return (await subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 (`PRIVATE KEY`) PEM: read by Go's crypto/tls, etcd, every Kubernetes component and openssl. */
export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  return toPem(new Uint8Array(await subtle.exportKey('pkcs8', key)), 'PRIVATE KEY');
}

/** SubjectPublicKeyInfo (`PUBLIC KEY`) PEM, e.g. for the service-account verification key. */
export async function publicKeyToPem(key: CryptoKey): Promise<string> {
  return toPem(new Uint8Array(await subtle.exportKey('spki', key)), 'PUBLIC KEY');
}

export type LoadedKey = { keys: CryptoKeyPair; spec: KeySpec; spkiDer: Uint8Array };

function specOf(object: KeyObject, file: string): KeySpec {
  const details = object.asymmetricKeyDetails ?? {};
  if (object.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return { algo: 'ecdsa', size: 256 };
    if (details.namedCurve === 'secp384r1') return { algo: 'ecdsa', size: 384 };
    throw new PkiInputError(file, undefined, `holds an EC key on curve ${details.namedCurve}, which is not supported`, 'use P-256 or P-384');
  }
  if (object.asymmetricKeyType === 'rsa' && [2048, 3072, 4096].includes(details.modulusLength ?? 0)) {
    return { algo: 'rsa', size: details.modulusLength as 2048 | 3072 | 4096 };
  }
  throw new PkiInputError(file, undefined, `holds a ${object.asymmetricKeyType} key${details.modulusLength ? ` of ${details.modulusLength} bits` : ''}, which is not supported`, 'use ECDSA P-256/P-384 or RSA 2048/3072/4096');
}

/**
 * Loads a PEM private key (PKCS#8, PKCS#1 or SEC1) as a WebCrypto key pair. Node's KeyObject parses every
 * PEM flavour and derives the public half, which WebCrypto alone cannot do from a PKCS#8 private key;
 * the JWK round trip moves both into WebCrypto for signing.
 */
export async function loadPrivateKeyPem(pem: string, file: string): Promise<LoadedKey> {
  let object: KeyObject;
  try {
    object = createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new PkiInputError(file, undefined, `is not a readable PEM private key (${(error as Error).message})`, 'restore the file or clean the target that owns it so a new key is generated');
  }
  const spec = specOf(object, file);
  const jwk = object.export({ format: 'jwk' });
  const algorithm = signingAlgorithm(spec);
  const publicJwk: JsonWebKey = spec.algo === 'ecdsa' ? { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: 'RSA', n: jwk.n, e: jwk.e };
  const [privateKey, publicKey] = await Promise.all([
    subtle.importKey('jwk', jwk as JsonWebKey, algorithm, true, ['sign']),
    subtle.importKey('jwk', publicJwk, algorithm, true, ['verify']),
  ]);
  const spkiDer = new Uint8Array(createPublicKey(object).export({ type: 'spki', format: 'der' }));
  return { keys: { privateKey, publicKey }, spec, spkiDer };
}
