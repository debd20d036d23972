/** "Did you mean ...?": the known words nearest to a mistyped one, by edit distance. */

/**
 * The edit distance between `a` and `b`: insertions, deletions, substitutions and swaps of
 * two neighbouring letters each count 1 (so "pdos" is 1 from "pods"). Case-sensitive.
 */
export function editDistance(a: string, b: string): number {
  // d[i][j]: distance between the first i letters of a and the first j letters of b.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidates nearest to `word` (case-insensitively), at most a third of its length away
 * (at least 1); several when they tie, in the candidates' order. Empty when none is that near.
 */
export function nearest(word: string, candidates: readonly string[]): string[] {
  const w = word.toLowerCase();
  const limit = Math.max(1, Math.floor(w.length / 3));
  let best = limit + 1;
  let found: string[] = [];
  for (const candidate of new Set(candidates)) {
    const distance = editDistance(w, candidate.toLowerCase());
    if (distance < best) [best, found] = [distance, [candidate]];
    else if (distance === best) found.push(candidate);
  }
  return found;
}

/** `did you mean "pods"?`, `did you mean "pods" or "nodes"?`, or undefined for no candidates. */
export function didYouMean(suggestions: readonly string[]): string | undefined {
  if (!suggestions.length) return undefined;
  const quoted = suggestions.map((s) => `"${s}"`);
  const last = quoted.pop()!;
  return `did you mean ${quoted.length ? `${quoted.join(", ")} or ${last}` : last}?`;
}
