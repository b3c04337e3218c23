// The ModernBERT tokenizer from a Hugging Face tokenizer.json (+ tokenizer_config.json), through
// @huggingface/tokenizers (pure JS: runs in Node and in browsers). Special tokens come from the files, never
// from constants here. reference/files.ts reads the files in Node.
import { Tokenizer } from '@huggingface/tokenizers';

export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

export interface ModernBertTokenizer {
  /** ids with the post-processor's special tokens ([CLS] ... [SEP]) */
  encode(text: string): number[];
  /** text of the ids, special tokens ([CLS], [SEP], [PAD], ...) left out */
  decode(ids: readonly number[]): string;
  /** the id of tokenizer_config.json's mask_token (lstrip: it absorbs the space before it) */
  maskTokenId: number;
  maskToken: string;
  vocabSize: number;
}

/** Builds the tokenizer from the parsed JSON files; `source` names the folder in errors. */
export function parseTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown, source: string): ModernBertTokenizer {
  if (tokenizerJson === null || typeof tokenizerJson !== 'object' || !('model' in tokenizerJson)) {
    throw new TokenizerError(`${source}/tokenizer.json: not a tokenizers file (no "model" field)`);
  }
  const config = (tokenizerConfig ?? {}) as Record<string, unknown>;
  const maskToken = config.mask_token;
  if (typeof maskToken !== 'string') throw new TokenizerError(`${source}/tokenizer_config.json: field "mask_token" must be a string, got ${JSON.stringify(maskToken)}`);
  const added = ((tokenizerJson as { added_tokens?: { id: number; content: string }[] }).added_tokens ?? []);
  const mask = added.find((t) => t.content === maskToken);
  if (!mask) throw new TokenizerError(`${source}/tokenizer.json: the mask token "${maskToken}" (tokenizer_config.json) is not in "added_tokens"`);
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, config);
  } catch (e) {
    throw new TokenizerError(`${source}/tokenizer.json: ${(e as Error).message}`);
  }
  const vocab = (tokenizerJson as { model: { vocab?: Record<string, number> } }).model.vocab ?? {};
  const vocabSize = Math.max(...Object.values(vocab), ...added.map((t) => t.id)) + 1;
  return {
    encode: (text) => tokenizer.encode(text).ids,
    decode: (ids) => tokenizer.decode([...ids], { skip_special_tokens: true }),
    maskTokenId: mask.id,
    maskToken,
    vocabSize,
  };
}
