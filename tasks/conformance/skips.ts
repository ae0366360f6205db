// The conformance tests this project does not run, each with the reason it cannot run here for a cause
// outside the cluster. Reviewed in docs/conformance.md; everything not listed must pass.

export type ConformanceSkip = {
  /** A substring of the test's full name (its [sig-…] text), matched literally. */
  test: string;
  reason: string;
};

export const CONFORMANCE_SKIPS: readonly ConformanceSkip[] = [];

/** The skip list as one ginkgo --skip regular expression (each name quoted), or undefined when it is empty. */
export function skipRegex(skips: readonly ConformanceSkip[] = CONFORMANCE_SKIPS): string | undefined {
  if (skips.length === 0) return undefined;
  return skips.map((s) => s.test.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}
