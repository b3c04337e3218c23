// Fuzzing of the files the project reads from strangers: safetensors, config.json, tokenizer.json (with
// tokenizer_config.json) and a sentence-transformers folder (modules.json, the pooling config,
// config_sentence_transformers.json). Each case mutates a valid input with a seeded generator. Every case must
// either load, or fail with the project's error type and a one-line message that names the file. Any other
// exception, a multi-line message, a case slower than the time limit, or a safetensors file that loads more
// bytes than it holds is a failure, reported with the seed that reproduces it.
//   node --import ./bin/register.js evals/fuzz.ts [--cases N] [--seed S] [--format safetensors,config,tokenizer,sentence-transformers]
// (the test runs a fixed budget in CI; this script runs long ones). Prints the counts as JSON lines, one per format.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, configToJson, presetConfig } from '../reference/config.ts';
import { loadConfig, loadTokenizer, readSafetensors } from '../reference/files.ts';
import { DTYPE_BYTES, SafetensorsError, elementCount, encodeSafetensors, parseSafetensors } from '../reference/safetensors.ts';
import { TokenizerError } from '../reference/tokenizer.ts';
import { ModelInputError } from '../tasks/errors.ts';
import { readSentenceTransformers } from '../tasks/sentence-transformers.ts';

export const FORMATS = ['safetensors', 'config', 'tokenizer', 'sentence-transformers'] as const;
export type Format = (typeof FORMATS)[number];

export interface FuzzReport {
  format: Format;
  cases: number;
  accepted: number;
  /** rejections counted by the message with file names, quoted values and numbers taken out */
  rejected: Record<string, number>;
  /** cases that broke a rule: the case number (with the seed, it reproduces), what happened */
  failures: { index: number; problem: string }[];
  slowestMs: number;
}

/** A case slower than this fails (a loader that loops or allocates by a lying size shows up here). */
const CASE_LIMIT_MS = 2000;

/** mulberry32: small, seeded, fast. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, list: readonly T[]): T => list[int(r, list.length)];

/** A value of a random JSON type, edge cases favoured. */
function randomValue(r: Rand): unknown {
  return pick(r, [
    () => null,
    () => pick(r, [true, false]),
    () => pick(r, [0, -1, 1, 0.5, -0.5, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308, 3, 7, 64, 1e-300]),
    () => pick(r, ['', 'F32', 'F16', 'gelu', 'mean', '[MASK]', 'x'.repeat(1000), '\u0000', 'é', '💥']),
    () => [],
    () => [int(r, 10), int(r, 10)],
    () => ({}),
    () => ({ [pick(r, ['a', 'type', 'id', 'dtype'])]: randomValue(r) }),
  ])();
}

/** Every [container, key] in a JSON tree (objects and arrays), the root's children first. */
function slots(root: unknown): [Record<string, unknown> | unknown[], string | number][] {
  const out: [Record<string, unknown> | unknown[], string | number][] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), visit(x)));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push([v as Record<string, unknown>, k]), visit(x);
  };
  visit(root);
  return out;
}

/** One structural mutation of a JSON tree, in place: delete, replace, add a key, duplicate or swap entries, or an edge number. */
function mutateJson(r: Rand, root: unknown): void {
  const list = slots(root);
  if (!list.length) return;
  const [container, key] = pick(r, list);
  const c = container as Record<string | number, unknown>;
  switch (int(r, 6)) {
    case 0:
      if (Array.isArray(container)) container.splice(key as number, 1);
      else delete c[key];
      break;
    case 1:
      c[key] = randomValue(r);
      break;
    case 2:
      if (Array.isArray(container)) container.push(structuredClone(container[int(r, container.length)] ?? null));
      else c[pick(r, ['extra', 'type', '__proto__x', 'dtype', 'shape'])] = randomValue(r);
      break;
    case 3:
      if (typeof c[key] === 'number') c[key] = pick(r, [0, -1, (c[key] as number) + 1, (c[key] as number) * 1000, 0.25, 2 ** 53 + 2]);
      else c[key] = randomValue(r);
      break;
    case 4: {
      const [other, otherKey] = pick(r, list);
      const o = other as Record<string | number, unknown>;
      [c[key], o[otherKey]] = [o[otherKey], c[key]];
      break;
    }
    default:
      if (typeof c[key] === 'string') c[key] = (c[key] as string).slice(0, int(r, (c[key] as string).length + 1)) + pick(r, ['', '\u0000', 'Ā', ' ']);
      else c[key] = randomValue(r);
  }
}

/** Text-level damage to a file: truncate, flip a byte, insert bytes that are not UTF-8. */
function damageBytes(r: Rand, bytes: Uint8Array, from = 0): Uint8Array {
  const at = from + int(r, Math.max(1, bytes.length - from));
  switch (int(r, 4)) {
    case 0:
      return bytes.slice(0, at);
    case 1: {
      const out = bytes.slice();
      out[at] ^= 1 << int(r, 8);
      return out;
    }
    case 2: {
      const out = new Uint8Array(bytes.length + 2);
      out.set(bytes.subarray(0, at));
      out.set([0xff, 0xc3], at);
      out.set(bytes.subarray(at), at + 2);
      return out;
    }
    default: {
      const out = bytes.slice();
      for (let i = 0; i < 1 + int(r, 8); i++) out[from + int(r, Math.max(1, bytes.length - from))] = int(r, 256);
      return out;
    }
  }
}

const encoder = new TextEncoder();

// ---- safetensors ----

function baseSafetensors(): Uint8Array {
  return encodeSafetensors(
    {
      'embeddings.tok_embeddings.weight': { dtype: 'F32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i / 7) },
      'layers.0.attn.Wqkv.weight': { dtype: 'F16', shape: [2, 2, 2], data: Uint16Array.from({ length: 8 }, (_, i) => 0x3c00 + i) },
      'layers.0.mlp.Wo.weight': { dtype: 'BF16', shape: [2, 3], data: Uint16Array.from({ length: 6 }, (_, i) => 0x3f80 + i) },
      position_ids: { dtype: 'I64', shape: [3], data: BigInt64Array.from([0n, 1n, 2n]) },
      scalar: { dtype: 'F64', shape: [], data: Float64Array.from([1.5]) },
      empty: { dtype: 'I32', shape: [0, 5], data: new Int32Array(0) },
    },
    { format: 'pt' },
  );
}

/** The file with its header replaced by `json` (header length right, or lying when `lie` is given). */
function withHeader(base: Uint8Array, json: string, lie?: bigint): Uint8Array {
  const n = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  const header = encoder.encode(json);
  const out = new Uint8Array(8 + header.length + base.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, lie ?? BigInt(header.length), true);
  out.set(header, 8);
  out.set(base.subarray(8 + n), 8 + header.length);
  return out;
}

function mutateSafetensors(r: Rand, base: Uint8Array): Uint8Array {
  const n = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  switch (int(r, 9)) {
    case 0:
      return damageBytes(r, base);
    case 1:
      return damageBytes(r, base, 8); // inside the header or the data
    case 2: // a lying header length: a little off, past the file, huge
      return withHeader(base, JSON.stringify(header), pick(r, [BigInt(n - 1), BigInt(n + 8), BigInt(base.length), 100_000_001n, 2n ** 63n, 0n]));
    case 3: {
      // offsets out of range, overlapping, reversed, or a tensor's bytes moved to another's place
      const e = header[pick(r, names)];
      const [b, end] = e.data_offsets as number[];
      e.data_offsets = pick(r, [[end, b], [b, end + 4], [b - 4, end - 4], [0, end - b], [b, b], [b, end, 0], [b + 0.5, end], [-4, end], [b, 2 ** 60]]);
      return withHeader(base, JSON.stringify(header));
    }
    case 4: {
      // dtype or shape that disagrees with the bytes
      const e = header[pick(r, names)];
      if (r() < 0.5) e.dtype = pick(r, ['F32', 'F16', 'F64', 'I8', 'U8', 'f32', 'BOOL', '', 7]);
      else e.shape = pick(r, [[], [0], [-1, 4], [1.5], ['3'], [2 ** 40, 2 ** 40], [3, 4, 1], null, 5]);
      return withHeader(base, JSON.stringify(header));
    }
    case 5: {
      // the tensors in another order in the data section (valid: offsets, not header order, place them)
      const sorted = names.map((k) => header[k]).sort((a, b) => (a.data_offsets as number[])[0] - (b.data_offsets as number[])[0]);
      const order = [...sorted].sort(() => r() - 0.5);
      const dataStart = 8 + n;
      const parts = order.map((e) => base.slice(dataStart + (e.data_offsets as number[])[0], dataStart + (e.data_offsets as number[])[1]));
      let at = 0;
      order.forEach((e, i) => {
        e.data_offsets = [at, at + parts[i].length];
        at += parts[i].length;
      });
      const json = encoder.encode(JSON.stringify(header));
      const out = new Uint8Array(8 + json.length + at);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      let p = 8 + json.length;
      for (const part of parts) out.set(part, p), (p += part.length);
      return out;
    }
    case 6: // metadata of the wrong types, duplicate keys, a header that is not an object
      return withHeader(base, pick(r, [
        JSON.stringify({ ...header, __metadata__: { format: 1 } }),
        JSON.stringify({ ...header, __metadata__: ['pt'] }),
        JSON.stringify(header).replace('{', `{"${names[0]}": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, `),
        JSON.stringify(Object.values(header)),
        'null',
        '"text"',
        '',
        '{'.repeat(5000) + '}'.repeat(5000),
      ]));
    case 7: { // a header padded far out (big but under the 100 MB bound)
      const pad = ' '.repeat(pick(r, [0, 7, 1 << 16, 1 << 20]));
      return withHeader(base, JSON.stringify(header) + pad);
    }
    default:
      mutateJson(r, header);
      return withHeader(base, JSON.stringify(header));
  }
}

/** A loaded safetensors file may not hold more bytes than the file: every tensor's data is its shape's size. */
function checkLoadedSafetensors(file: { tensors: Map<string, { dtype: keyof typeof DTYPE_BYTES; shape: number[]; data: ArrayBufferView }> }, size: number): string | null {
  let total = 0;
  for (const [name, t] of file.tensors) {
    if (t.data.byteLength !== DTYPE_BYTES[t.dtype] * elementCount(t.shape)) return `tensor "${name}" has ${t.data.byteLength} bytes for ${t.dtype} x [${t.shape}]`;
    total += t.data.byteLength;
  }
  return total <= size ? null : `${total} bytes of tensors from a ${size}-byte file`;
}

// ---- the JSON formats ----

interface JsonCase {
  /** the files of the case, relative to its folder */
  files: Record<string, unknown>;
}

function baseTokenizer(): JsonCase {
  // A byte-level BPE as ModernBERT's: a few merges, the special tokens, and [CLS] $A [SEP] / [CLS] $A [SEP] $B [SEP].
  // GPT-2's byte-to-character table: printable bytes stand for themselves, the others for 256, 257, ...
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  let next = 256;
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[String.fromCodePoint(printable(b) ? b : next++)] = b;
  const merges = [['h', 'e'], ['l', 'l'], ['he', 'll'], ['Ġ', 'w'], ['o', 'r']];
  merges.forEach(([a, b]) => (vocab[a + b] = Object.keys(vocab).length));
  const specials = ['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]'];
  const added = specials.map((content, i) => ({ id: 300 + i, content, single_word: false, lstrip: content === '[MASK]', rstrip: false, normalized: false, special: true }));
  return {
    files: {
      'tokenizer.json': {
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: added,
        normalizer: { type: 'NFC' },
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        post_processor: {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
          pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
          special_tokens: { '[CLS]': { id: '[CLS]', ids: [301], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [302], tokens: ['[SEP]'] } },
        },
        decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
        model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
      },
      'tokenizer_config.json': { mask_token: '[MASK]', cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', model_max_length: 64 },
    },
  };
}

function baseSentenceTransformers(): JsonCase {
  return {
    files: {
      'modules.json': [
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
        { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
      ],
      '1_Pooling/config.json': { word_embedding_dimension: 64, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true, pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false, include_prompt: true },
      'config_sentence_transformers.json': { prompts: { query: 'search_query: ', document: 'search_document: ' }, default_prompt_name: null, similarity_fn_name: 'cosine' },
    },
  };
}

const JSON_BASES: Record<Exclude<Format, 'safetensors'>, () => JsonCase> = {
  config: () => ({ files: { 'config.json': configToJson(presetConfig('small')) } }),
  tokenizer: baseTokenizer,
  'sentence-transformers': baseSentenceTransformers,
};

/** The loader of each JSON format, on a folder; returns what a caller would use next (run once to be sure it works). */
const JSON_LOADERS: Record<Exclude<Format, 'safetensors'>, (dir: string) => void> = {
  config: (dir) => void loadConfig(join(dir, 'config.json')),
  tokenizer: (dir) => {
    const t = loadTokenizer(dir);
    // An accepted tokenizer must also work: encode a text (with the mask token) and decode it.
    t.decode(t.encode(`hello world ${t.maskToken} é`, { truncation: 'truncate' }));
  },
  'sentence-transformers': (dir) => void readSentenceTransformers(dir),
};

const ERRORS: Record<Format, (new (...args: never[]) => Error)[]> = {
  safetensors: [SafetensorsError],
  config: [ConfigError],
  tokenizer: [TokenizerError],
  'sentence-transformers': [ModelInputError],
};

/** A rejection's kind: its message with the case folder, quoted values and numbers taken out. */
function reason(message: string, dir: string): string {
  return message.split(dir).join('').replace(/"[^"]*"|\[[^\]]*\]|-?\d+(\.\d+)?(e[+-]?\d+)?/g, '_').slice(0, 120);
}

/** Why a rejection breaks the rules (not the project's error type, several lines, no file named), or null when it is clean. */
export function judgeRejection(format: Format, e: unknown, dir: string): string | null {
  const err = e as Error;
  const message = String(err?.message ?? err);
  if (!ERRORS[format].some((type) => err instanceof type)) return `threw ${err?.name ?? typeof err}: ${message.slice(0, 300)}`;
  if (message.includes('\n')) return `a message of several lines: ${message.slice(0, 300)}`;
  if (!message.startsWith(dir)) return `the message does not name the file: ${message.slice(0, 300)}`;
  return null;
}

/** Runs `cases` cases of one format from `seed`; never throws for a case, it reports it. */
export function fuzz(format: Format, cases: number, seed: number): FuzzReport {
  const report: FuzzReport = { format, cases, accepted: 0, rejected: {}, failures: [], slowestMs: 0 };
  const root = mkdtempSync(join(tmpdir(), `modernbert-fuzz-${format}-`));
  const base = format === 'safetensors' ? baseSafetensors() : null;
  try {
    for (let index = 0; index < cases; index++) {
      const r = rng(seed * 1_000_003 + index);
      const dir = join(root, String(index));
      mkdirSync(dir);
      const start = performance.now();
      let problem: string | null = null;
      try {
        if (base) {
          const bytes = index === 0 ? base : mutateSafetensors(r, base);
          // Half the cases through the in-memory parser, half through the file reader (its own length checks).
          const file = join(dir, 'model.safetensors');
          let loaded;
          if (index % 2) {
            writeFileSync(file, bytes);
            loaded = readSafetensors(file);
          } else loaded = parseSafetensors(bytes, file);
          problem = checkLoadedSafetensors(loaded as never, bytes.length);
        } else {
          const json = format as Exclude<Format, 'safetensors'>;
          writeCase(r, dir, JSON_BASES[json](), index === 0);
          JSON_LOADERS[json](dir);
        }
        if (!problem) report.accepted++;
      } catch (e) {
        problem = judgeRejection(format, e, dir);
        if (!problem) {
          const kind = reason((e as Error).message, dir);
          report.rejected[kind] = (report.rejected[kind] ?? 0) + 1;
        }
      }
      const ms = performance.now() - start;
      report.slowestMs = Math.max(report.slowestMs, ms);
      if (ms > CASE_LIMIT_MS) problem ??= `took ${ms.toFixed(0)} ms (limit ${CASE_LIMIT_MS})`;
      if (problem) report.failures.push({ index, problem });
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return report;
}

/** Writes the case's files, one of them mutated (structurally, or as damaged text), unless `pristine`. */
function writeCase(r: Rand, dir: string, c: JsonCase, pristine: boolean): void {
  const names = Object.keys(c.files);
  const target = pick(r, names);
  for (const name of names) {
    const value = c.files[name];
    let bytes: Uint8Array;
    if (pristine || name !== target) bytes = encoder.encode(JSON.stringify(value));
    else if (r() < 0.2) bytes = damageBytes(r, encoder.encode(JSON.stringify(value)));
    else {
      for (let m = 0; m < 1 + int(r, 3); m++) mutateJson(r, value);
      bytes = encoder.encode(JSON.stringify(value));
    }
    if (name.includes('/')) mkdirSync(join(dir, name.slice(0, name.lastIndexOf('/'))), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string', default: '1' }, format: { type: 'string', default: FORMATS.join(',') } } });
  const formats = values.format.split(',') as Format[];
  for (const f of formats) if (!FORMATS.includes(f)) throw new Error(`--format: "${f}" is not one of ${FORMATS.join(', ')}`);
  let failed = false;
  for (const format of formats) {
    const report = fuzz(format, Number(values.cases), Number(values.seed));
    failed ||= report.failures.length > 0;
    process.stdout.write(JSON.stringify(report) + '\n');
  }
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await main();
