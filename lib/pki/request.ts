// cfssl-format certificate request configs (`csr/*.json`): parsing, ${variable} expansion, validation.

import { PkiInputError } from './errors.ts';
import { classifyHost, type SanEntry } from './host-names.ts';
import { parseGoDuration } from './duration.ts';
import { KEY_SIZES, type KeySpec } from './key-spec.ts';

/** One entry of cfssl's `names` array; each present field becomes one attribute of the subject. */
export type NameEntry = { C?: string; ST?: string; L?: string; O?: string; OU?: string };

/**
 * A request config as written: CN, names and hosts may still contain `${variable}` placeholders, which
 * the caller fills from the cluster config (node names, planned IPs) so tracked files never need editing.
 */
export type CertRequest = {
  /** The file it came from, for error messages. */
  file: string;
  CN: string;
  names: NameEntry[];
  hosts: string[];
  /** Absent means "use the caller's default algorithm". */
  key: KeySpec | undefined;
  /** cfssl's `ca.expiry` (CA requests only): overrides the signing profile's expiry. */
  caExpiryMs: number | undefined;
};

/** A request with every placeholder filled and every host classified: ready to issue. */
export type ResolvedRequest = Omit<CertRequest, 'hosts'> & { hosts: SanEntry[] };

/** Values for placeholders: a string, or a list (allowed only as a whole `hosts` entry, which expands to many). */
export type RequestVariables = Record<string, string | string[]>;

const TOP_LEVEL_FIELDS = ['CN', 'names', 'hosts', 'key', 'ca'];
const NAME_FIELDS = ['C', 'ST', 'L', 'O', 'OU'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses JSON text, turning a syntax error into one naming the file (and line when the engine says). */
export function parseJsonFile(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PkiInputError(file, undefined, `is not valid JSON (${(error as Error).message})`, 'fix the syntax; cfssl request configs are plain JSON objects');
  }
}

function parseKey(value: unknown, file: string): KeySpec {
  if (!isRecord(value)) throw new PkiInputError(file, 'key', 'must be an object like {"algo": "ecdsa", "size": 256}');
  const { algo, size } = value;
  if (algo !== 'ecdsa' && algo !== 'rsa') {
    throw new PkiInputError(file, 'key.algo', `unknown key algorithm ${JSON.stringify(algo)}`, 'use "ecdsa" (size 256 or 384) or "rsa" (size 2048, 3072 or 4096)');
  }
  const sizes: readonly number[] = KEY_SIZES[algo];
  if (size === undefined) return { algo, size: sizes[0] } as KeySpec;
  if (typeof size !== 'number' || !sizes.includes(size)) {
    throw new PkiInputError(file, 'key.size', `${JSON.stringify(size)} is not a supported ${algo} key size`, `use one of ${sizes.join(', ')}`);
  }
  return { algo, size } as KeySpec;
}

/**
 * Parses and shape-checks a request config. Unknown fields are errors, unlike cfssl: a typo such as
 * `host` would otherwise silently drop every SAN. Placeholders are not checked here (see resolveRequest).
 */
export function parseCertRequest(text: string, file: string): CertRequest {
  const json = parseJsonFile(text, file);
  if (!isRecord(json)) throw new PkiInputError(file, undefined, 'must contain a JSON object with at least "CN"');
  for (const key of Object.keys(json)) {
    if (!TOP_LEVEL_FIELDS.includes(key)) {
      throw new PkiInputError(file, key, 'is not a request config field', `known fields: ${TOP_LEVEL_FIELDS.join(', ')}`);
    }
  }
  if (typeof json.CN !== 'string') throw new PkiInputError(file, 'CN', 'must be a string (the common name)');
  const names: NameEntry[] = [];
  if (json.names !== undefined) {
    if (!Array.isArray(json.names)) throw new PkiInputError(file, 'names', 'must be an array of objects like {"O": "system:masters"}');
    json.names.forEach((entry: unknown, i: number) => {
      if (!isRecord(entry)) throw new PkiInputError(file, `names[${i}]`, 'must be an object with C, ST, L, O or OU');
      const parsed: NameEntry = {};
      for (const [key, value] of Object.entries(entry)) {
        if (!(NAME_FIELDS as readonly string[]).includes(key)) {
          throw new PkiInputError(file, `names[${i}].${key}`, 'is not a name attribute', `use ${NAME_FIELDS.join(', ')}`);
        }
        if (typeof value !== 'string' || value.trim() === '') throw new PkiInputError(file, `names[${i}].${key}`, 'must be a non-empty string');
        parsed[key as keyof NameEntry] = value;
      }
      names.push(parsed);
    });
  }
  const hosts: string[] = [];
  if (json.hosts !== undefined) {
    if (!Array.isArray(json.hosts)) throw new PkiInputError(file, 'hosts', 'must be an array of IP addresses and DNS names');
    json.hosts.forEach((host: unknown, i: number) => {
      if (typeof host !== 'string') throw new PkiInputError(file, `hosts[${i}]`, 'must be a string (an IP address or a DNS name)');
      hosts.push(host);
    });
  }
  const key = json.key === undefined ? undefined : parseKey(json.key, file);
  let caExpiryMs: number | undefined;
  if (json.ca !== undefined) {
    if (!isRecord(json.ca)) throw new PkiInputError(file, 'ca', 'must be an object like {"expiry": "87600h"}');
    if (json.ca.expiry !== undefined) {
      caExpiryMs = typeof json.ca.expiry === 'string' ? parseGoDuration(json.ca.expiry) : undefined;
      if (caExpiryMs === undefined) throw new PkiInputError(file, 'ca.expiry', `${JSON.stringify(json.ca.expiry)} is not a duration`, 'write hours like "87600h" (cfssl has no day unit)');
    }
  }
  return { file, CN: json.CN, names, hosts, key, caExpiryMs };
}

function expandText(text: string, vars: RequestVariables, file: string, field: string): string {
  return text.replace(/\$\{([^}]*)\}/g, (_whole, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      const known = Object.keys(vars);
      throw new PkiInputError(file, field, `unknown variable \${${name}}`, known.length ? `variables available here: ${known.map((k) => `\${${k}}`).join(', ')}` : 'this request takes no variables');
    }
    if (Array.isArray(value)) throw new PkiInputError(file, field, `\${${name}} is a list; it can only stand alone as a whole "hosts" entry`);
    return value;
  });
}

/**
 * Fills placeholders and validates the result: a non-empty CN and every host an IP address or DNS name.
 * Validation happens after expansion so the error shows the value that would have gone into the cert.
 */
export function resolveRequest(request: CertRequest, vars: RequestVariables = {}): ResolvedRequest {
  const { file } = request;
  const CN = expandText(request.CN, vars, file, 'CN').trim();
  if (CN === '') throw new PkiInputError(file, 'CN', 'is empty', 'every certificate needs a common name (for client certs it is the user name)');
  const names = request.names.map((entry, i) => {
    const out: NameEntry = {};
    for (const key of NAME_FIELDS) {
      const value = entry[key];
      if (value !== undefined) out[key] = expandText(value, vars, file, `names[${i}].${key}`);
    }
    return out;
  });
  const hosts: SanEntry[] = [];
  const seen = new Set<string>();
  request.hosts.forEach((host, i) => {
    const whole = /^\$\{([^}]*)\}$/.exec(host);
    const listValue = whole ? vars[whole[1]!] : undefined;
    const expanded = Array.isArray(listValue) ? listValue : [expandText(host, vars, file, `hosts[${i}]`)];
    for (const value of expanded) {
      const san = classifyHost(value);
      if (!san) {
        throw new PkiInputError(file, `hosts[${i}]`, `${JSON.stringify(value)} is neither an IP address nor a DNS name`, 'use an address like 10.240.0.10 or a name like kubernetes.default.svc');
      }
      const key = `${san.type}:${san.value}`;
      if (!seen.has(key)) hosts.push(san);
      seen.add(key);
    }
  });
  return { file, CN, names, hosts, key: request.key, caExpiryMs: request.caExpiryMs };
}

/** The organizations (O) of a request, in order: Kubernetes reads them as the user's groups. */
export function organizations(request: { names: NameEntry[] }): string[] {
  return request.names.flatMap((entry) => (entry.O === undefined ? [] : [entry.O]));
}
