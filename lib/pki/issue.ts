// Issuing certificates: a self-signed CA or a leaf signed by a CA, from a resolved request and a profile.

import { createHash, randomBytes } from 'node:crypto';
import { PkiInputError } from './errors.ts';
import type { KeySpec } from './key-spec.ts';
import { signingAlgorithm } from './keys.ts';
import type { NameEntry, ResolvedRequest } from './request.ts';
import type { KeyUsageBit, SigningProfile } from './signing-config.ts';
import { loadX509 } from './x509-loader.ts';
import type * as X509 from '@peculiar/x509';

/** Backdating notBefore absorbs small clock differences between the machine that issues and the ones that verify. */
export const BACKDATE_MS = 5 * 60_000;

/** The CA that signs a leaf: its certificate (PEM) and private key. */
export type Signer = { certPem: string; privateKey: CryptoKey; spec: KeySpec };

/** What was issued, in JSON-friendly form (the result of a cert target is built from this). */
export type IssuedCert = {
  certPem: string;
  /** SHA-256 of the DER certificate, lowercase hex: the identity dependents key on. */
  sha256: string;
  serial: string;
  notBefore: string;
  notAfter: string;
};

const SUBJECT_ORDER: (keyof NameEntry)[] = ['C', 'ST', 'L', 'O', 'OU'];

/** The subject in cfssl's order (C, ST, L, O, OU, CN), one RDN per value so each O is its own group. */
export function subjectOf(request: Pick<ResolvedRequest, 'CN' | 'names'>): Record<string, string[]>[] {
  const rdns: Record<string, string[]>[] = [];
  for (const attribute of SUBJECT_ORDER) {
    for (const entry of request.names) {
      const value = entry[attribute];
      if (value !== undefined) rdns.push({ [attribute]: [value] });
    }
  }
  rdns.push({ CN: [request.CN] });
  return rdns;
}

/**
 * keyEncipherment means RSA key transport; an EC key cannot do it (RFC 5480 §3 does not allow it on an
 * id-ecPublicKey certificate), so it is dropped for EC keys instead of copied blindly from the profile.
 */
function keyUsageFlags(bits: KeyUsageBit[], spec: KeySpec, flags: Record<KeyUsageBit, number>): number {
  return bits.filter((bit) => !(spec.algo === 'ecdsa' && (bit === 'keyEncipherment' || bit === 'dataEncipherment'))).reduce((sum, bit) => sum | flags[bit], 0);
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // positive INTEGER, 127 bits of randomness as CA/B asks for >= 64
  if (bytes[0] === 0) bytes[0] = 1; // keep the encoding exactly 16 bytes
  return bytes.toString('hex');
}

type IssuerData = { name: X509.Name; aki: X509.AuthorityKeyIdentifierExtension };
const issuers = new WeakMap<Signer, Promise<IssuerData>>();

/** The CA's subject and key identifier, parsed once per signer (loadSigner memoizes signers). */
function issuerOf(signer: Signer): Promise<IssuerData> {
  let data = issuers.get(signer);
  if (!data) {
    data = (async () => {
      const x509 = await loadX509();
      const cert = new x509.X509Certificate(signer.certPem);
      const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
      const aki = ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey);
      return { name: cert.subjectName, aki };
    })();
    issuers.set(signer, data);
  }
  return data;
}

export type IssueOptions = {
  request: ResolvedRequest;
  profile: SigningProfile;
  /** The subject's key pair (for a CA: also the signing key). */
  keys: CryptoKeyPair;
  keySpec: KeySpec;
  /** Absent: self-signed (only allowed for CA profiles). */
  signer?: Signer;
  now?: Date;
};

/** Issues one certificate. Extensions follow what kubeadm writes: critical BasicConstraints and KeyUsage, EKU, SKI, AKI, SANs. */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCert> {
  const x509 = await loadX509();
  const { request, profile, keys, keySpec, signer } = options;
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const lifetime = profile.isCa && request.caExpiryMs !== undefined ? request.caExpiryMs : profile.expiryMs;
  const notAfter = new Date(now.getTime() + lifetime);
  const flags = x509.KeyUsageFlags as unknown as Record<KeyUsageBit, number>;
  const extensions: InstanceType<typeof x509.Extension>[] = [
    new x509.BasicConstraintsExtension(profile.isCa, profile.isCa ? profile.maxPathLen : undefined, true),
    new x509.KeyUsagesExtension(keyUsageFlags(profile.keyUsages, keySpec, flags), true),
  ];
  if (profile.extKeyUsages.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(profile.extKeyUsages, false));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  const subject = subjectOf(request);
  let cert: InstanceType<typeof x509.X509Certificate>;
  if (signer) {
    const issuer = await issuerOf(signer);
    extensions.push(issuer.aki);
    if (request.hosts.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(request.hosts));
    cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject,
      issuer: issuer.name,
      notBefore,
      notAfter,
      signingAlgorithm: signingAlgorithm(signer.spec),
      publicKey: keys.publicKey,
      signingKey: signer.privateKey,
      extensions,
    });
  } else {
    if (!profile.isCa) throw new PkiInputError(request.file, undefined, `cannot be self-signed with profile "${profile.name}"`, 'only CA profiles (ca_constraint.is_ca) make self-signed certificates');
    if (request.hosts.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(request.hosts));
    cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: subject,
      notBefore,
      notAfter,
      signingAlgorithm: signingAlgorithm(keySpec),
      keys,
      extensions,
    });
  }
  const der = new Uint8Array(cert.rawData);
  return {
    certPem: cert.toString('pem') + '\n',
    sha256: createHash('sha256').update(der).digest('hex'),
    serial: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
  };
}
