// Which private keys lib/pki can make: the algorithm/size pairs a request config may ask for.

/** A key algorithm and size, as cfssl's request `key` field spells them. */
export type KeySpec = { algo: 'ecdsa'; size: 256 | 384 } | { algo: 'rsa'; size: 2048 | 3072 | 4096 };

/** Sizes accepted per algorithm, in the order they are suggested in error messages. */
export const KEY_SIZES = { ecdsa: [256, 384], rsa: [2048, 3072, 4096] } as const;

export function keySpecText(spec: KeySpec): string {
  return spec.algo === 'ecdsa' ? `ECDSA P-${spec.size}` : `RSA ${spec.size}`;
}

export function sameKeySpec(a: KeySpec, b: KeySpec): boolean {
  return a.algo === b.algo && a.size === b.size;
}
