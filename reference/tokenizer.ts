// The ModernBERT tokenizer from a Hugging Face tokenizer.json (+ tokenizer_config.json), through
// @huggingface/tokenizers (pure JS: runs in Node and in browsers). Special tokens come from the files, never
// from constants here: the mask token from tokenizer_config.json, [CLS]/[SEP] from the post-processor's
// template in tokenizer.json. reference/files.ts reads the files in Node.
import { Tokenizer } from '@huggingface/tokenizers';

export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/** A text, or a pair of texts ([CLS] A [SEP] B [SEP]). */
export type TextInput = string | readonly [string, string];

export interface EncodeOptions {
  /** At most this many ids, special tokens included (default: tokenizer_config.json's model_max_length). */
  maxLength?: number;
  /**
   * A text over maxLength: 'error' (the default: never silently shortened) or 'truncate' (HF's longest_first:
   * ids come off the end, of the longer text of a pair first).
   */
  truncation?: 'error' | 'truncate';
}

export interface ModernBertTokenizer {
  /** ids with the post-processor's special tokens ([CLS] ... [SEP]) */
  encode(text: TextInput, options?: EncodeOptions): number[];
  /** encode for each text; an error names the text at fault by its index */
  encodeBatch(texts: readonly TextInput[], options?: EncodeOptions): number[][];
  /** text of the ids, special tokens ([CLS], [SEP], [PAD], ...) left out */
  decode(ids: readonly number[]): string;
  /** the id of tokenizer_config.json's mask_token (lstrip: it absorbs the space before it) */
  maskTokenId: number;
  maskToken: string;
  /** the largest id + 1 */
  vocabSize: number;
  /** tokenizer_config.json's model_max_length (Infinity when absent) */
  maxLength: number;
}

type TemplatePiece = { SpecialToken: { id: string } } | { Sequence: { id: 'A' | 'B' } };
interface Template {
  single: TemplatePiece[];
  pair: TemplatePiece[];
  special_tokens: Record<string, { ids: number[] }>;
}

/** Builds the tokenizer from the parsed JSON files; `source` names the folder in errors. */
export function parseTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown, source: string): ModernBertTokenizer {
  if (tokenizerJson === null || typeof tokenizerJson !== 'object' || !('model' in tokenizerJson)) {
    throw new TokenizerError(`${source}/tokenizer.json: not a tokenizers file (no "model" field)`);
  }
  const config = (tokenizerConfig ?? {}) as Record<string, unknown>;
  const maskToken = config.mask_token;
  if (typeof maskToken !== 'string') throw new TokenizerError(`${source}/tokenizer_config.json: field "mask_token" must be a string, got ${JSON.stringify(maskToken)}`);
  const added = (tokenizerJson as { added_tokens?: { id: number; content: string }[] }).added_tokens ?? [];
  const mask = added.find((t) => t.content === maskToken);
  if (!mask) throw new TokenizerError(`${source}/tokenizer.json: the mask token "${maskToken}" (tokenizer_config.json) is not in "added_tokens"`);
  const modelMaxLength = config.model_max_length ?? Infinity;
  if (typeof modelMaxLength !== 'number' || !(modelMaxLength >= 2)) throw new TokenizerError(`${source}/tokenizer_config.json: field "model_max_length" must be a number >= 2, got ${JSON.stringify(modelMaxLength)}`);
  const template = readTemplate((tokenizerJson as { post_processor?: unknown }).post_processor, `${source}/tokenizer.json`);
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, config);
  } catch (e) {
    throw new TokenizerError(`${source}/tokenizer.json: ${(e as Error).message}`);
  }
  const vocab = (tokenizerJson as { model: { vocab?: Record<string, number> } }).model.vocab ?? {};
  const vocabSize = Math.max(...Object.values(vocab), ...added.map((t) => t.id)) + 1;

  const pieces = (text: string) => tokenizer.encode(text, { add_special_tokens: false }).ids;
  const encode = (text: TextInput, options: EncodeOptions = {}, label = 'the text'): number[] => {
    const maxLength = options.maxLength ?? modelMaxLength;
    const [a, b] = typeof text === 'string' ? [pieces(text), null] : [pieces(text[0]), pieces(text[1])];
    const specials = applyTemplate(template, [], b && []).length;
    const budget = maxLength - specials;
    const length = a.length + (b?.length ?? 0);
    if (length > budget) {
      if (options.truncation !== 'truncate') {
        throw new TokenizerError(`${label} has ${length + specials} tokens, more than the maximum length ${maxLength}, and truncation is off`);
      }
      if (budget < (b ? 2 : 1)) throw new TokenizerError(`maxLength ${maxLength} leaves no room for text after the ${specials} special tokens`);
      truncateLongestFirst(a, b, budget);
    }
    return applyTemplate(template, a, b);
  };
  return {
    encode: (text, options) => encode(text, options),
    encodeBatch: (texts, options) => texts.map((t, i) => encode(t, options, `text ${i}`)),
    decode: (ids) => tokenizer.decode([...ids], { skip_special_tokens: true }),
    maskTokenId: mask.id,
    maskToken,
    vocabSize,
    maxLength: modelMaxLength,
  };
}

/** The TemplateProcessing post-processor ([CLS] $A [SEP], pair [CLS] $A [SEP] $B [SEP]); none adds nothing. */
function readTemplate(postProcessor: unknown, file: string): Template {
  if (postProcessor === null || postProcessor === undefined) return { single: [{ Sequence: { id: 'A' } }], pair: [{ Sequence: { id: 'A' } }, { Sequence: { id: 'B' } }], special_tokens: {} };
  const p = postProcessor as { type?: string } & Partial<Template>;
  if (p.type !== 'TemplateProcessing') throw new TokenizerError(`${file}: field "post_processor.type" is ${JSON.stringify(p.type)}; only TemplateProcessing is supported`);
  if (!Array.isArray(p.single) || !Array.isArray(p.pair) || typeof p.special_tokens !== 'object') throw new TokenizerError(`${file}: field "post_processor" needs "single", "pair" and "special_tokens"`);
  for (const piece of [...p.single, ...p.pair]) {
    if ('SpecialToken' in piece && !p.special_tokens[piece.SpecialToken.id]) throw new TokenizerError(`${file}: field "post_processor.special_tokens" lacks "${piece.SpecialToken.id}"`);
  }
  return p as Template;
}

function applyTemplate(template: Template, a: number[], b: number[] | null): number[] {
  const ids: number[] = [];
  for (const piece of b ? template.pair : template.single) {
    if ('SpecialToken' in piece) ids.push(...template.special_tokens[piece.SpecialToken.id].ids);
    else ids.push(...(piece.Sequence.id === 'A' ? a : (b ?? [])));
  }
  return ids;
}

/**
 * Shortens a and b in place to `budget` ids together, as HF tokenizers' longest_first does: a text no longer
 * than half the budget keeps all its ids; otherwise the longer text (the second on a tie) keeps the larger half.
 */
function truncateLongestFirst(a: number[], b: number[] | null, budget: number): void {
  if (!b) {
    a.length = budget;
    return;
  }
  const [longer, shorter] = a.length > b.length ? [a, b] : [b, a];
  const half = Math.floor(budget / 2);
  shorter.length = Math.min(shorter.length, half);
  longer.length = budget - shorter.length;
}
