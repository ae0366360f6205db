// Go-style durations ("8760h", "1h30m") as cfssl writes expiries, parsed to milliseconds.

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/**
 * Parses a cfssl expiry. cfssl uses Go's time.ParseDuration, which has no day unit, so a year is
 * written `8760h`; we accept the same grammar (h, m, s, ms; integers or decimals; concatenated) so one
 * file works with both tools. Returns undefined when the text is not a positive duration.
 */
export function parseGoDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  return total > 0 ? Math.round(total) : undefined;
}
