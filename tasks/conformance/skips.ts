// The conformance tests this project does not run, each with the reason it cannot run here for a cause
// outside the cluster. Reviewed in docs/conformance.md; everything not listed must pass.

export type ConformanceSkip = {
  /** A substring of the test's full name (its [sig-…] text), matched literally. */
  test: string;
  reason: string;
};

export const CONFORMANCE_SKIPS: readonly ConformanceSkip[] = [
  {
    test: '[sig-network] Services should serve endpoints on same port and different protocols [Conformance]',
    reason:
      'after removing a Service port it expects a TCP connection to that ClusterIP port to fail, but here a packet no ' +
      "kube-proxy rule matches leaves through the machine's default route, and the machine's network answers every " +
      'outbound TCP connection to port 80 (an egress HTTP proxy: `curl http://10.32.0.250/` from the host gets ' +
      '`400`, `server: keryx`). The rest of the test (TCP and UDP on one port, each alone) passes.',
  },
];

/** The skip list as one ginkgo --skip regular expression (each name quoted), or undefined when it is empty. */
export function skipRegex(skips: readonly ConformanceSkip[] = CONFORMANCE_SKIPS): string | undefined {
  if (skips.length === 0) return undefined;
  return skips.map((s) => s.test.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}
