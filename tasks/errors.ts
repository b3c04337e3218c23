// The library's bad-input error (tasks/): a message naming the text, option or file at fault.
export class ModelInputError extends Error {
  override name = 'ModelInputError';
}
