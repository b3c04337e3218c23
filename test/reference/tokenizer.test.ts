// The tokenizer on the real ModernBERT tokenizer files (test/fixtures/tokenizer/modernbert): the published
// encodings, pairs, truncation and batches, and an error naming the file and field for each bad input.
// Pair and truncation ids were produced by Hugging Face tokenizers 0.23.2 (Python) on the same
// tokenizer.json, with enable_truncation(max_length, strategy='longest_first').
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../reference/files.ts';
import { tempDir } from '../helpers.ts';

const TOKENIZER = join(import.meta.dirname, '..', 'fixtures', 'tokenizer', 'modernbert');
const LONG = 'The quick brown fox jumps over the lazy dog near the river bank.'; // 14 ids
const SHORT = 'A short one.'; // 4 ids

describe('tokenizer', () => {
  const tokenizer = loadTokenizer(TOKENIZER);

  it('gives each text token its string and character offsets (HF offset_mapping: leading spaces kept), truncated with the ids', () => {
    const text = "Zoë met O'Neill in São Paulo.";
    const { ids, first, tokens, offsets } = tokenizer.encodeWithOffsets(text);
    expect(ids).toEqual(tokenizer.encode(text));
    expect(first).toBe(1); // after [CLS]
    expect(tokens).toHaveLength(ids.length - 2);
    expect(offsets[0][0]).toBe(0);
    expect(offsets.at(-1)![1]).toBe(text.length);
    offsets.forEach(([, end], i) => i + 1 < offsets.length && expect(offsets[i + 1][0]).toBe(end)); // contiguous
    expect(tokens.map((_, i) => text.slice(...offsets[i])).join('')).toBe(text);
    expect(tokenizer.tokensToString(tokens)).toBe(text);
    const cut = tokenizer.encodeWithOffsets(text, { maxLength: 5, truncation: 'truncate' });
    expect(cut.tokens).toEqual(tokens.slice(0, 3));
    expect(() => tokenizer.encodeWithOffsets('Zoe\u0301')).toThrow(/not in Unicode NFC/);
  });

  it('reproduces the published ModernBERT encodings (fixture README)', () => {
    expect(tokenizer.encode('The capital of France is [MASK].')).toEqual([50281, 510, 5347, 273, 6181, 310, 50284, 15, 50282]);
    expect(tokenizer.encode('Hello world! This is a test.')).toEqual([50281, 12092, 1533, 2, 831, 310, 247, 1071, 15, 50282]);
    expect(tokenizer.encode('The movie was full of incomprehensibilities.')).toEqual([50281, 510, 6440, 369, 2120, 273, 15321, 8391, 9594, 15, 50282]);
    expect(tokenizer.encode('The pH of H₂O is ~7.0')).toEqual([50281, 510, 8487, 273, 388, 46979, 213, 48, 310, 5062, 24, 15, 17, 50282]);
    expect(tokenizer.encode('The apple and banana are fruits')).toEqual([50281, 510, 19126, 285, 36767, 403, 18098, 50282]);
    expect(tokenizer.maskTokenId).toBe(50284);
    expect(tokenizer.vocabSize).toBe(50368);
    expect(tokenizer.maxLength).toBe(8192);
    expect(tokenizer.decode([50281, 510, 5347, 50282])).toBe('The capital');
  });

  it('encodes a pair as [CLS] A [SEP] B [SEP]', () => {
    expect(tokenizer.encode(['The capital of France is [MASK].', 'Paris is nice.'])).toEqual([50281, 510, 5347, 273, 6181, 310, 50284, 15, 50282, 36062, 310, 5322, 15, 50282]);
  });

  it('truncates only when asked, as HF longest_first does', () => {
    const truncate = (text: string | [string, string], maxLength: number) => tokenizer.encode(text, { maxLength, truncation: 'truncate' });
    expect(truncate(LONG, 9)).toEqual([50281, 510, 3158, 8516, 30013, 27287, 689, 253, 50282]);
    expect(truncate([LONG, SHORT], 10)).toEqual([50281, 510, 3158, 8516, 30013, 50282, 34, 2159, 581, 50282]);
    expect(truncate([LONG, SHORT], 7)).toEqual([50281, 510, 3158, 50282, 34, 2159, 50282]);
    expect(truncate([SHORT, 'One two three four five six.'], 10)).toEqual([50281, 34, 2159, 581, 50282, 4041, 767, 1264, 1740, 50282]);
    expect(truncate(['One two three four five six.', 'Seven eight nine ten eleven twelve.'], 9)).toEqual([50281, 4041, 767, 1264, 50282, 40151, 4314, 7457, 50282]);
    expect(truncate(SHORT, 100)).toEqual(tokenizer.encode(SHORT)); // short texts are untouched
    expect(() => tokenizer.encode(LONG, { maxLength: 9 })).toThrow('the text has 16 tokens, more than the maximum length 9, and truncation is off');
    expect(() => truncate([LONG, SHORT], 4)).toThrow(/maxLength 4 leaves no room for text after the 3 special tokens/);
  });

  it('encodes a batch, naming the text at fault', () => {
    expect(tokenizer.encodeBatch(['Hello world! This is a test.', [SHORT, SHORT]])).toEqual([tokenizer.encode('Hello world! This is a test.'), tokenizer.encode([SHORT, SHORT])]);
    expect(() => tokenizer.encodeBatch([SHORT, LONG], { maxLength: 12 })).toThrow(/^text 1 has 16 tokens, more than the maximum length 12/);
  });

  it('takes the special tokens from the files, not from constants', () => {
    const dir = tempDir();
    const json = JSON.parse(readFileSync(join(TOKENIZER, 'tokenizer.json'), 'utf8'));
    json.post_processor.special_tokens['[SEP]'].ids = [50283]; // a file whose [SEP] is another id
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ mask_token: '[MASK]', model_max_length: 16 }));
    const other = loadTokenizer(dir);
    expect(other.encode(SHORT)).toEqual([50281, 34, 2159, 581, 15, 50283]);
    expect(other.maxLength).toBe(16);
    expect(() => other.encode(`${LONG} ${LONG}`)).toThrow(/more than the maximum length 16/);
  });

  it('names the file and field at fault', () => {
    const dir = tempDir();
    expect(() => loadTokenizer(dir)).toThrow(`${join(dir, 'tokenizer.json')}: file not found`);
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer\.json: not valid JSON/);
    copyFileSync(join(TOKENIZER, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    expect(() => loadTokenizer(dir)).toThrow(`${join(dir, 'tokenizer_config.json')}: file not found`);
    writeFileSync(join(dir, 'tokenizer_config.json'), '{"pad_token": "[PAD]"}');
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer_config\.json: field "mask_token" must be a string/);
    writeFileSync(join(dir, 'tokenizer_config.json'), '{"mask_token": "<mask>"}');
    expect(() => loadTokenizer(dir)).toThrow(/the mask token "<mask>" \(tokenizer_config\.json\) is not in "added_tokens"/);
    writeFileSync(join(dir, 'tokenizer_config.json'), '{"mask_token": "[MASK]", "model_max_length": "long"}');
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer_config\.json: field "model_max_length" must be a number >= 2, got "long"/);
    const json = JSON.parse(readFileSync(join(TOKENIZER, 'tokenizer.json'), 'utf8'));
    writeFileSync(join(dir, 'tokenizer_config.json'), '{"mask_token": "[MASK]"}');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ ...json, post_processor: { type: 'RobertaProcessing' } }));
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer\.json: field "post_processor.type" is "RobertaProcessing"; only TemplateProcessing is supported/);
    delete json.post_processor.special_tokens['[CLS]'];
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer\.json: field "post_processor.special_tokens" lacks "\[CLS\]"/);
  });
});
