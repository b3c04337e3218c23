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
  /**
   * encode() of one text, and for its text tokens (the ids between the template's special tokens) the token
   * strings and [start, end) character offsets into the text, as HF's offset_mapping (a token's leading space
   * included: the template post-processor trims no offsets). Given words (pre-tokenized input), each is
   * tokenized alone with no prefix space, as HF's is_split_into_words, and the offsets are into the words
   * joined by single spaces. Byte-level BPE tokenizers only.
   */
  encodeWithOffsets(input: string | readonly string[], options?: EncodeOptions): { ids: number[]; first: number; tokens: string[]; offsets: [number, number][] };
  /** The text of token strings (HF's convert_tokens_to_string: the byte-level decoder, spaces kept). */
  tokensToString(tokens: readonly string[]): string;
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
  if (!Array.isArray(added)) throw new TokenizerError(`${source}/tokenizer.json: field "added_tokens" must be a list`);
  added.forEach((t, i) => {
    if (!(Number.isSafeInteger(t?.id) && t.id >= 0 && typeof t.content === 'string')) throw new TokenizerError(`${source}/tokenizer.json: field "added_tokens[${i}]" needs a non-negative integer "id" and a string "content"`);
  });
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
  if (!Number.isSafeInteger(vocabSize)) throw new TokenizerError(`${source}/tokenizer.json: field "model.vocab" must map tokens to integer ids`);

  // The library's own errors (a tokenizer.json it accepted but cannot run) name the file, as the loader's do.
  const library = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof TokenizerError) throw e;
      throw new TokenizerError(`${source}/tokenizer.json: cannot ${what}: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
    }
  };
  const pieces = (text: string) => library('encode', () => tokenizer.encode(text, { add_special_tokens: false }).ids);
  const encode = (text: TextInput, options: EncodeOptions = {}, label = 'the text'): number[] =>
    typeof text === 'string' ? withTemplate(pieces(text), null, options, label) : withTemplate(pieces(text[0]), pieces(text[1]), options, label);
  /** The template around the text ids a (and b), after the length check or truncation. */
  const withTemplate = (a: number[], b: number[] | null, options: EncodeOptions, label: string): number[] => {
    const maxLength = options.maxLength ?? modelMaxLength;
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
  const byteLevel = (tokenizerJson as { pre_tokenizer?: { type?: string } }).pre_tokenizer?.type === 'ByteLevel';
  const requireByteLevel = () => {
    if (!byteLevel) throw new TokenizerError(`${source}/tokenizer.json: token offsets need a ByteLevel pre_tokenizer`);
  };
  // The template's special tokens before the text (ModernBERT: [CLS]).
  const first = applyTemplate(template, [-1], null).indexOf(-1);
  /** One text's (or word's) pieces: ids, token strings and character offsets into it. */
  const piecesWithOffsets = (text: string, shift: number) => {
    if (text.normalize('NFC') !== text) throw new TokenizerError('token offsets of a text that is not in Unicode NFC are not supported: normalize it first');
    const encoding = tokenizer.encode(text, { add_special_tokens: false });
    const tokens: string[] = encoding.tokens;
    // Byte offsets of each token in the UTF-8 text (one character per byte in byte-level BPE), as UTF-16 indices.
    const charAt = utf8ToChar(text);
    let byte = 0;
    const offsets = tokens.map((t): [number, number] => {
      const start = byte;
      byte += [...t].length;
      return [shift + charAt[start], shift + charAt[byte]];
    });
    if (byte !== charAt.length - 1) throw new TokenizerError(`the tokens of the text do not cover its ${charAt.length - 1} UTF-8 bytes`);
    return { ids: encoding.ids as number[], tokens, offsets };
  };
  const encodeWithOffsets = (input: string | readonly string[], options: EncodeOptions = {}) => {
    requireByteLevel();
    // Words (pre-tokenized input) are tokenized one by one with no prefix space, as HF's is_split_into_words
    // does for this tokenizer, and located in the words joined by spaces.
    const parts = typeof input === 'string' ? [input] : input;
    let at = 0;
    const split = parts.map((w) => {
      const p = piecesWithOffsets(w, at);
      at += w.length + 1;
      return p;
    });
    const ids = withTemplate(split.flatMap((p) => p.ids), null, options, 'the text');
    const keep = ids.length - applyTemplate(template, [], null).length; // truncation keeps a prefix
    return { ids, first, tokens: split.flatMap((p) => p.tokens).slice(0, keep), offsets: split.flatMap((p) => p.offsets).slice(0, keep) };
  };
  return {
    encodeWithOffsets,
    tokensToString: (tokens) => {
      requireByteLevel();
      // As tokenizers' ByteLevel decoder: a token wholly in the byte alphabet stands for those bytes, any other
      // token for its own UTF-8; invalid UTF-8 then decodes to U+FFFD.
      const bytes = tokens.flatMap((t) => ([...t].every((c) => BYTE_OF_CHAR.has(c)) ? [...t].map((c) => BYTE_OF_CHAR.get(c)!) : [...new TextEncoder().encode(t)]));
      return new TextDecoder().decode(Uint8Array.from(bytes));
    },
    encode: (text, options) => encode(text, options),
    encodeBatch: (texts, options) => texts.map((t, i) => encode(t, options, `text ${i}`)),
    decode: (ids) => (ids.length ? library('decode', () => tokenizer.decode([...ids], { skip_special_tokens: true })) : ''),
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
  if (!Array.isArray(p.single) || !Array.isArray(p.pair) || typeof p.special_tokens !== 'object' || p.special_tokens === null) throw new TokenizerError(`${file}: field "post_processor" needs "single", "pair" and "special_tokens"`);
  for (const [key, pieces] of [['single', p.single], ['pair', p.pair]] as const) {
    pieces.forEach((piece: unknown, i) => {
      const where = `${file}: field "post_processor.${key}[${i}]"`;
      const special = (piece as { SpecialToken?: { id?: unknown } } | null)?.SpecialToken;
      const sequence = (piece as { Sequence?: { id?: unknown } } | null)?.Sequence;
      if (special !== undefined) {
        if (typeof special?.id !== 'string') throw new TokenizerError(`${where}: a SpecialToken needs a string "id"`);
        const ids = (p.special_tokens as Record<string, { ids?: unknown }>)[special.id]?.ids;
        if (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id) && id >= 0)) throw new TokenizerError(`${file}: field "post_processor.special_tokens" lacks "${special.id}" with its "ids" (non-negative integers)`);
      } else if (sequence?.id !== 'A' && sequence?.id !== 'B') {
        throw new TokenizerError(`${where}: must be {"SpecialToken": {"id": ...}} or {"Sequence": {"id": "A" or "B"}}`);
      }
    });
  }
  return p as Template;
}

/** GPT-2's byte-level alphabet: the printable bytes stand for themselves, the others for 256 + n. */
const BYTE_OF_CHAR = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<string, number>();
  let next = 256;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(printable(b) ? b : next++), b);
  return map;
})();

/** For each byte position of the text's UTF-8 encoding (and its end), the UTF-16 index of the character holding it. */
function utf8ToChar(text: string): number[] {
  const at: number[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < bytes; k++) at.push(i);
    i += cp > 0xffff ? 2 : 1;
  }
  at.push(text.length);
  return at;
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
