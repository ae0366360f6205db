// Lazy loading of @peculiar/x509: it takes ~90 ms to import, so only builds that issue or read certs pay.

import type * as X509 from '@peculiar/x509';

let loading: Promise<typeof X509> | undefined;

/**
 * Imports @peculiar/x509 once, with the Reflect polyfill its dependency injection (tsyringe) needs and
 * Node's WebCrypto as its provider. Call from build functions, never at module top level: the CLI's
 * no-op run must start in well under a second.
 */
export function loadX509(): Promise<typeof X509> {
  loading ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(globalThis.crypto);
    return x509;
  })();
  return loading;
}
