// "Did you mean": the closest names to a misspelt one (edit distance, plus prefix/substring matches).

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** Up to `max` candidates close to `word`, best first. */
export function suggest(word: string, candidates: readonly string[], max = 3): string[] {
  const lower = word.toLowerCase();
  const limit = Math.max(2, Math.floor(word.length / 3));
  const scored: [number, string][] = [];
  for (const candidate of new Set(candidates)) {
    const c = candidate.toLowerCase();
    let score = editDistance(lower, c);
    if (score > limit) {
      // A word that is a clear part of the candidate (`ca` in `certs:ca`) is still a good guess.
      if (lower.length >= 2 && (c.endsWith(`:${lower}`) || c.startsWith(lower) || c.includes(lower))) score = limit + 0.5;
      else continue;
    }
    scored.push([score, candidate]);
  }
  scored.sort((x, y) => x[0] - y[0] || x[1].localeCompare(y[1]));
  return scored.slice(0, max).map(([, name]) => name);
}
