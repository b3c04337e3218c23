// "Did you mean ...?" for a mistyped command or option: the closest known name by edit distance, when one is close.
// Its own module: the CLI's entry point and its commands' files both use it.

/** The candidate nearest to `word` (Levenshtein distance at most 2, or a quarter of its length without dashes), or null. */
export function closestMatch(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(word.replace(/^-+/, '').length / 4)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[b.length];
}

/**
 * Node's parseArgs message for an unknown option ("Unknown option '--modle'. To specify a positional argument
 * ...") as one line with the nearest option of `known`; any other message as it is.
 */
export function explainParseError(e: unknown, known: Iterable<string>): string {
  const message = String((e as Error)?.message ?? e);
  const unknown = (e as { code?: string })?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']+)'/.exec(message)?.[1] : undefined;
  if (!unknown) return message;
  const near = closestMatch(unknown, known);
  return `unknown option ${unknown}${near ? `; did you mean ${near}?` : ''}`;
}
