// The library's bad-input error (tasks/): a message naming the text, option or file at fault.
export class ModelInputError extends Error {
  override name = 'ModelInputError';
}

/** A text as an error message quotes it: whole when short, else its start and its length (never 100 KB of it). */
export function quoteText(text: string, max = 80): string {
  return text.length <= max ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, max))}... (${text.length.toLocaleString('en-US')} characters)`;
}
