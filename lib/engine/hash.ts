// Hashing and JSON helpers: a stable (key-sorted) serialisation, sha256, and a check that a value is JSON.

import * as crypto from 'node:crypto';

/** crypto.hash (Node >= 20.12): one call, no Hash object; a no-op run hashes one key per target. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

/** sha256 of a string or buffer, hex. */
export function sha256(data: string | Uint8Array): string {
  return oneShot ? oneShot('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}

/**
 * JSON with object keys sorted, so equal values always serialise (and hash) the same whatever order
 * their keys were built in. Only call on values already checked by `jsonProblem`.
 */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + stableStringify(value[i]);
    return out + ']';
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(key) + ':' + stableStringify(v);
    first = false;
  }
  return out + '}';
}

/** Hash of a JSON value (the "result hash" that dependents' keys are made of). */
export function hashJson(value: unknown): string {
  return sha256(stableStringify(value));
}

/**
 * Why `value` is not JSON, naming the path (`result.nodes[2].created is a Date`), or undefined when it is.
 * Results are stored and compared as JSON, so anything JSON.stringify would silently change or drop
 * (undefined, functions, NaN, class instances, cycles) is refused up front.
 */
export function jsonProblem(value: unknown, path = 'result', seen: Set<object> = new Set()): string | undefined {
  if (value === null) return undefined;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`;
    case 'undefined':
      return `${path} is undefined (return null, or a value)`;
    case 'bigint':
      return `${path} is a bigint (convert it to a string or number)`;
    case 'function':
      return `${path} is a function`;
    case 'symbol':
      return `${path} is a symbol`;
    case 'object': {
      if (seen.has(value)) return `${path} refers back to itself (a cycle)`;
      const proto = Object.getPrototypeOf(value);
      if (Array.isArray(value)) {
        seen.add(value);
        for (let i = 0; i < value.length; i++) {
          const problem = jsonProblem(value[i], `${path}[${i}]`, seen);
          if (problem) return problem;
        }
        seen.delete(value);
        return undefined;
      }
      if (proto !== Object.prototype && proto !== null) {
        const name = (value as object).constructor?.name ?? 'object';
        return `${path} is a ${name} (only plain objects, arrays, strings, numbers, booleans and null are JSON)`;
      }
      seen.add(value);
      for (const [key, v] of Object.entries(value)) {
        // An absent optional field: JSON drops it, and so does stableStringify; harmless.
        if (v === undefined) continue;
        const problem = jsonProblem(v, /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, seen);
        if (problem) return problem;
      }
      seen.delete(value);
      return undefined;
    }
  }
  return `${path} is not JSON`;
}
