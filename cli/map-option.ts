// --map their=ours,...: how a user's output names map to ours (parity --outputs, diff). Its own module, so the
// commands that take it import it without importing the CLI's entry point (which imports them).

/** `their=ours,...` as {their: ours}. */
export function parseMap(text: string | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of text ? text.split(',') : []) {
    const [their, ours, ...rest] = pair.split('=');
    if (!their || !ours || rest.length) throw new Error(`--map takes their=ours pairs separated by commas, got "${pair}"`);
    map[their] = ours;
  }
  return map;
}
