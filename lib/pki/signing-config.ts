// cfssl-format signing configs (`csr/ca-config.json`): profiles with usages, expiry and CA constraints.

import { PkiInputError } from './errors.ts';
import { parseGoDuration } from './duration.ts';
import { parseJsonFile } from './request.ts';

/** cfssl's key usage names (X.509 keyUsage bits). "signing" is cfssl's alias for digital signature. */
export const KEY_USAGE_NAMES = {
  signing: 'digitalSignature',
  'digital signature': 'digitalSignature',
  'content commitment': 'nonRepudiation',
  'key encipherment': 'keyEncipherment',
  'data encipherment': 'dataEncipherment',
  'key agreement': 'keyAgreement',
  'cert sign': 'keyCertSign',
  'crl sign': 'cRLSign',
} as const;

/** cfssl's extended key usage names and their OIDs. */
export const EXT_KEY_USAGE_NAMES = {
  'server auth': '1.3.6.1.5.5.7.3.1',
  'client auth': '1.3.6.1.5.5.7.3.2',
  'code signing': '1.3.6.1.5.5.7.3.3',
  'email protection': '1.3.6.1.5.5.7.3.4',
  timestamping: '1.3.6.1.5.5.7.3.8',
  'ocsp signing': '1.3.6.1.5.5.7.3.9',
} as const;

export type KeyUsageBit = (typeof KEY_USAGE_NAMES)[keyof typeof KEY_USAGE_NAMES];

export type SigningProfile = {
  name: string;
  keyUsages: KeyUsageBit[];
  /** Extended key usage OIDs, in the order written. */
  extKeyUsages: string[];
  expiryMs: number;
  isCa: boolean;
  /** Path length constraint for CAs; undefined means unlimited. */
  maxPathLen: number | undefined;
};

export type SigningConfig = { file: string; profiles: Record<string, SigningProfile> };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseExpiry(value: unknown, file: string, field: string): number {
  const ms = typeof value === 'string' ? parseGoDuration(value) : undefined;
  if (ms === undefined) throw new PkiInputError(file, field, `${JSON.stringify(value)} is not a duration`, 'write hours like "8760h" (one year); cfssl has no day unit');
  return ms;
}

function parseProfile(name: string, value: unknown, defaultExpiry: number | undefined, file: string): SigningProfile {
  const at = `signing.profiles.${name}`;
  if (!isRecord(value)) throw new PkiInputError(file, at, 'must be an object with "usages" and "expiry"');
  if (!Array.isArray(value.usages) || value.usages.length === 0) {
    throw new PkiInputError(file, `${at}.usages`, 'must be a non-empty array such as ["signing", "key encipherment", "server auth"]');
  }
  const keyUsages: KeyUsageBit[] = [];
  const extKeyUsages: string[] = [];
  value.usages.forEach((usage: unknown, i: number) => {
    if (typeof usage === 'string' && usage in KEY_USAGE_NAMES) {
      const bit = KEY_USAGE_NAMES[usage as keyof typeof KEY_USAGE_NAMES];
      if (!keyUsages.includes(bit)) keyUsages.push(bit);
    } else if (typeof usage === 'string' && usage in EXT_KEY_USAGE_NAMES) {
      const oid = EXT_KEY_USAGE_NAMES[usage as keyof typeof EXT_KEY_USAGE_NAMES];
      if (!extKeyUsages.includes(oid)) extKeyUsages.push(oid);
    } else {
      throw new PkiInputError(file, `${at}.usages[${i}]`, `unknown usage ${JSON.stringify(usage)}`, `known usages: ${[...Object.keys(KEY_USAGE_NAMES), ...Object.keys(EXT_KEY_USAGE_NAMES)].join(', ')}`);
    }
  });
  let expiryMs = defaultExpiry;
  if (value.expiry !== undefined) expiryMs = parseExpiry(value.expiry, file, `${at}.expiry`);
  if (expiryMs === undefined) throw new PkiInputError(file, `${at}.expiry`, 'is missing and signing.default has no expiry');
  let isCa = false;
  let maxPathLen: number | undefined;
  if (value.ca_constraint !== undefined) {
    const constraint = value.ca_constraint;
    if (!isRecord(constraint)) throw new PkiInputError(file, `${at}.ca_constraint`, 'must be an object like {"is_ca": true}');
    isCa = constraint.is_ca === true;
    if (constraint.max_path_len !== undefined) {
      if (!Number.isInteger(constraint.max_path_len) || (constraint.max_path_len as number) < 0) {
        throw new PkiInputError(file, `${at}.ca_constraint.max_path_len`, 'must be a non-negative integer');
      }
      // cfssl, like Go, reads max_path_len 0 as "unlimited" unless max_path_len_zero says otherwise.
      const len = constraint.max_path_len as number;
      if (len > 0 || constraint.max_path_len_zero === true) maxPathLen = len;
    }
  }
  if (isCa && !keyUsages.includes('keyCertSign')) {
    throw new PkiInputError(file, `${at}.usages`, 'a CA profile (ca_constraint.is_ca) must include "cert sign"');
  }
  return { name, keyUsages, extKeyUsages, expiryMs, isCa, maxPathLen };
}

/** Parses a cfssl signing config. Only the parts that shape certificates are read; others are rejected. */
export function parseSigningConfig(text: string, file: string): SigningConfig {
  const json = parseJsonFile(text, file);
  if (!isRecord(json) || !isRecord(json.signing)) throw new PkiInputError(file, 'signing', 'must be an object with "default" and "profiles"');
  const { signing } = json;
  for (const key of Object.keys(signing)) {
    if (key !== 'default' && key !== 'profiles') throw new PkiInputError(file, `signing.${key}`, 'is not a signing config field', 'known fields: default, profiles');
  }
  let defaultExpiry: number | undefined;
  if (signing.default !== undefined) {
    if (!isRecord(signing.default)) throw new PkiInputError(file, 'signing.default', 'must be an object like {"expiry": "8760h"}');
    if (signing.default.expiry !== undefined) defaultExpiry = parseExpiry(signing.default.expiry, file, 'signing.default.expiry');
  }
  if (!isRecord(signing.profiles)) throw new PkiInputError(file, 'signing.profiles', 'must be an object of named profiles');
  const profiles: Record<string, SigningProfile> = {};
  for (const [name, value] of Object.entries(signing.profiles)) profiles[name] = parseProfile(name, value, defaultExpiry, file);
  return { file, profiles };
}

/** Looks up a profile, with an error that lists the ones that exist. */
export function profileOf(config: SigningConfig, name: string): SigningProfile {
  const profile = config.profiles[name];
  if (!profile) throw new PkiInputError(config.file, `signing.profiles.${name}`, 'is missing', `add it; profiles present: ${Object.keys(config.profiles).join(', ') || 'none'}`);
  return profile;
}
