// Reading certificates back: subject, SANs, validity, and whether a CA really signed them.

import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
import { PkiInputError } from './errors.ts';
import type { SanEntry } from './host-names.ts';
import { loadPrivateKeyPem, type LoadedKey } from './keys.ts';
import type { Signer } from './issue.ts';

export type CertInfo = {
  subject: string;
  CN: string;
  O: string[];
  issuer: string;
  sans: SanEntry[];
  serial: string;
  notBefore: Date;
  notAfter: Date;
  sha256: string;
  isCa: boolean;
};

function parseNodeCert(pem: string, file: string): NodeX509 {
  try {
    return new NodeX509(pem);
  } catch (error) {
    throw new PkiInputError(file, undefined, `is not a readable PEM certificate (${(error as Error).message})`, 'restore the file or clean the target that owns it');
  }
}

/** Describes a certificate. Uses Node's X509Certificate (no @peculiar/x509 load needed for a read). */
export function describeCertificate(pem: string, file: string): CertInfo {
  const cert = parseNodeCert(pem, file);
  const attributes = (text: string, key: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${key}=`))
      .map((line) => line.slice(key.length + 1));
  const sans: SanEntry[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ').filter(Boolean)) {
    if (part.startsWith('DNS:')) sans.push({ type: 'dns', value: part.slice(4) });
    else if (part.startsWith('IP Address:')) sans.push({ type: 'ip', value: part.slice(11) });
  }
  return {
    subject: cert.subject.split('\n').join(', '),
    CN: attributes(cert.subject, 'CN')[0] ?? '',
    O: attributes(cert.subject, 'O'),
    issuer: cert.issuer.split('\n').join(', '),
    sans,
    serial: cert.serialNumber.toLowerCase(),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    sha256: createHash('sha256').update(cert.raw).digest('hex'),
    isCa: cert.ca,
  };
}

/** True when `caPem` signed `certPem`: issuer name matches the CA's subject and the signature verifies. */
export function isSignedBy(certPem: string, caPem: string, file: string, caFile: string): boolean {
  const cert = parseNodeCert(certPem, file);
  const ca = parseNodeCert(caPem, caFile);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** The SubjectPublicKeyInfo of a certificate, DER. */
export function certificateSpki(pem: string, file: string): Uint8Array {
  return new Uint8Array(parseNodeCert(pem, file).publicKey.export({ type: 'spki', format: 'der' }));
}

/** True when the private key belongs to the certificate. */
export function keyMatchesCertificate(key: LoadedKey, certPem: string, certFile: string): boolean {
  return Buffer.from(key.spkiDer).equals(Buffer.from(certificateSpki(certPem, certFile)));
}

const signers = new Map<string, Promise<Signer>>();

/**
 * Loads a CA for signing and refuses a key that does not belong to its certificate: leaves signed
 * with the wrong key would fail verification on every node, far from the cause. Memoized by content:
 * one build issues a dozen leaves from the same CA, and parsing and importing its key each time was
 * a third of the per-cert cost.
 */
export function loadSigner(certPem: string, certFile: string, keyPem: string, keyFile: string): Promise<Signer> {
  const memoKey = `${certFile}\0${keyFile}\0${certPem}\0${keyPem}`;
  let signer = signers.get(memoKey);
  if (!signer) {
    signer = loadSignerUncached(certPem, certFile, keyPem, keyFile);
    signers.set(memoKey, signer);
    signer.catch(() => signers.delete(memoKey));
    if (signers.size > 16) signers.delete(signers.keys().next().value!);
  }
  return signer;
}

async function loadSignerUncached(certPem: string, certFile: string, keyPem: string, keyFile: string): Promise<Signer> {
  const info = describeCertificate(certPem, certFile);
  if (!info.isCa) throw new PkiInputError(certFile, undefined, 'is not a CA certificate (BasicConstraints CA:FALSE)', 'restore the CA certificate or clean and rebuild the CA');
  const key = await loadPrivateKeyPem(keyPem, keyFile);
  if (!keyMatchesCertificate(key, certPem, certFile)) {
    throw new PkiInputError(keyFile, undefined, `does not match the CA certificate ${certFile}`, 'restore the matching key, or clean the CA target (every certificate it signed will be re-issued)');
  }
  return { certPem, privateKey: key.keys.privateKey, spec: key.spec };
}
