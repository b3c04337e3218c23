// Golden cases from any checkpoint folder (`modernbert golden make`), in the format of test/fixtures/golden
// (README there), with the fp64 reference (reference/modernbert.ts) as the oracle; and the stress shapes that
// `modernbert crosscheck` (evals/crosscheck.ts) runs. No CLI parsing here: cli/golden.ts has it.
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseLengths } from '../benchmarks/workloads.ts';
import { seededRandom, weightsFromTensors, type ModernBertWeights } from '../reference/checkpoint.ts';
import { type ModernBertConfig, isGlobalLayer, slidingWindow } from '../reference/config.ts';
import { loadConfig, loadTokenizer, readCheckpointTensors, writeSafetensors } from '../reference/files.ts';
import { forwardAsync } from '../reference/modernbert.ts';
import { type FloatArray, fp64 } from '../reference/ops.ts';
import type { DType, Tensor } from '../reference/safetensors.ts';
import { WEIGHTS_POINTER } from './parity.ts';
import { type PackedBatch, pack, repad } from '../reference/unpad.ts';

/** Bad input to `golden make` or `crosscheck` (a folder, a file, an option): the CLI exits 2 with this message. */
export class GoldenInputError extends Error {
  override name = 'GoldenInputError';
}

/** mlm_logits (and _f64) are written only when B·L·V is at most this: at 4e6 they already take 48 MB. */
export const MLM_LOGITS_MAX_ELEMENTS = 4_000_000;
const MLM_RULE = `written when the checkpoint has the MLM head and B*L*V <= ${MLM_LOGITS_MAX_ELEMENTS}`;
const PADDED_POSITIONS = 'zeros in every per-token output: HF computes values there, but parity compares real tokens only (attention_mask == 1)';
const ORACLE = 'reference/modernbert.ts forward in fp64 (reference/ops.ts fp64); the F32 tensors are the fp64 values rounded to f32';

export type WeightsMode = 'copy' | 'link';
export const WEIGHTS_MODES: readonly WeightsMode[] = ['copy', 'link'];

/** A checkpoint folder read once: its config, its tensors as stored, and the fp64 weights the oracle runs. */
export interface CheckpointFolder {
  dir: string;
  config: ModernBertConfig;
  tensors: Map<string, Tensor>;
  weights: ModernBertWeights;
}

export function readCheckpointFolder(modelDir: string): CheckpointFolder {
  const dir = resolve(modelDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new GoldenInputError(`--model: ${dir}: folder not found`);
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile)) throw new GoldenInputError(`--model: ${configFile}: file not found`);
  const config = loadConfig(configFile);
  const tensors = readCheckpointTensors(dir);
  return { dir, config, tensors, weights: weightsFromTensors(config, tensors, fp64, dir) };
}

// ---- inputs ----

/** One sequence of ids per non-blank line of `file`, tokenized with the folder's tokenizer ([CLS] ... [SEP]). */
export function sequencesFromTexts(folder: CheckpointFolder, file: string): number[][] {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new GoldenInputError(`--texts: ${path}: file not found`);
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  const texts = lines.map((text, i) => ({ text, line: i + 1 })).filter(({ text }) => text.trim() !== '');
  if (texts.length === 0) throw new GoldenInputError(`--texts: ${path}: no text in the file (one text per line)`);
  const tokenizer = loadTokenizer(folder.dir);
  const maxPositions = folder.config.maxPositionEmbeddings;
  return texts.map(({ text, line }) => {
    // The limit checked is the model's, not the tokenizer's model_max_length: the case must run on the model.
    const ids = tokenizer.encode(text, { maxLength: Infinity });
    if (ids.length > maxPositions) throw new GoldenInputError(`--texts: ${path}: line ${line} has ${ids.length} tokens, more than max_position_embeddings (${maxPositions})`);
    return ids;
  });
}

/** `--lengths` ("65,9", "128x2,1"): lengths checked against max_position_embeddings. */
export function parseCaseLengths(spec: string, config: ModernBertConfig): number[] {
  let lengths: number[];
  try {
    lengths = parseLengths(spec);
  } catch (e) {
    throw new GoldenInputError((e as Error).message);
  }
  const tooLong = lengths.find((n) => n > config.maxPositionEmbeddings);
  if (tooLong !== undefined) throw new GoldenInputError(`--lengths: ${tooLong} is more than max_position_embeddings (${config.maxPositionEmbeddings})`);
  return lengths;
}

/** Ids a random sequence never draws: the config's special ids, and the tokenizer's special added tokens when the folder has one. */
export function specialTokenIds(folder: CheckpointFolder): Set<number> {
  const { config } = folder;
  const ids = new Set([config.padTokenId, config.clsTokenId, config.sepTokenId, config.bosTokenId, config.eosTokenId]);
  const tokenizerFile = join(folder.dir, 'tokenizer.json');
  if (existsSync(tokenizerFile)) {
    let added: unknown;
    try {
      added = JSON.parse(readFileSync(tokenizerFile, 'utf8')).added_tokens;
    } catch (e) {
      throw new GoldenInputError(`${tokenizerFile}: not valid JSON (${(e as Error).message})`);
    }
    for (const t of Array.isArray(added) ? added : []) if (t?.special === true && Number.isInteger(t.id)) ids.add(t.id);
  }
  return ids;
}

/**
 * One sequence per length, [CLS] random ids [SEP] like the shipped cases (a 1-token sequence is [CLS] alone),
 * the ids uniform over the vocabulary less `excluded`, from a seeded generator.
 */
export function randomTokenSequences(config: ModernBertConfig, lengths: readonly number[], seed: number, excluded: ReadonlySet<number>): number[][] {
  const allowed: number[] = [];
  for (let id = 0; id < config.vocabSize; id++) if (!excluded.has(id)) allowed.push(id);
  if (allowed.length === 0) throw new GoldenInputError('every id of the vocabulary is a special token: no ids to draw');
  const random = seededRandom(seed);
  return lengths.map((n) => {
    const ids = Array.from({ length: n }, () => allowed[Math.floor(random() * allowed.length)]);
    ids[0] = config.clsTokenId;
    if (n > 1) ids[n - 1] = config.sepTokenId;
    return ids;
  });
}

// ---- the oracle ----

/** What a case holds besides input_ids, attention_mask, last_hidden_state and hidden_states. */
export interface HeadOutputs {
  mlmLogits: boolean;
  classifierLogits: boolean;
}

/** The heads a case of this batch gets: MLM logits under the size rule, both poolings' logits when there is a classifier. */
export function headOutputs(folder: CheckpointFolder, lengths: readonly number[]): HeadOutputs {
  const B = lengths.length;
  const L = Math.max(...lengths);
  return {
    mlmLogits: folder.weights.decoder !== null && B * L * folder.config.vocabSize <= MLM_LOGITS_MAX_ELEMENTS,
    classifierLogits: folder.weights.head !== null && folder.weights.classifier !== null,
  };
}

/**
 * Runs the fp64 oracle on the sequences and returns the io tensors, padded [B, L, ...] with zeros at padding.
 * `exact`: the fp32-named fields (last_hidden_state, ...) carry the fp64 values as F64 instead of rounded to
 * F32 (crosscheck compares against the oracle itself; a file keeps the format's F32).
 */
export async function oracleIo(folder: CheckpointFolder, sequences: readonly number[][], heads: HeadOutputs, exact = false): Promise<Map<string, Tensor>> {
  const { config, weights } = folder;
  const batch = pack(sequences);
  const B = batch.batchSize;
  const L = batch.maxSeqlen;
  const C = config.hiddenSize;
  const out = await forwardAsync({ config, weights, precision: fp64 }, batch, { hiddenStates: true, mlmLogits: heads.mlmLogits, pooling: heads.classifierLogits ? ['cls', 'mean'] : [] });

  const inputIds = new Int32Array(B * L).fill(config.padTokenId);
  const mask = new Int32Array(B * L);
  sequences.forEach((ids, b) => {
    inputIds.set(ids, b * L);
    mask.fill(1, b * L, b * L + ids.length);
  });
  const io = new Map<string, Tensor>([
    ['input_ids', { dtype: 'I32', shape: [B, L], data: inputIds }],
    ['attention_mask', { dtype: 'I32', shape: [B, L], data: mask }],
  ]);
  const put = (name: string, shape: number[], values: FloatArray, withF64: boolean) => {
    io.set(name, exact ? f64Tensor(shape, values) : { dtype: 'F32', shape, data: Float32Array.from(values) });
    if (withF64) io.set(`${name}_f64`, f64Tensor(shape, values));
  };
  put('last_hidden_state', [B, L, C], padded(out.lastHiddenState, batch, C, L), true);
  const layers = out.hiddenStates!;
  const hidden = new Float64Array(layers.length * B * L * C);
  layers.forEach((h, i) => hidden.set(padded(h, batch, C, L), i * B * L * C));
  put('hidden_states', [layers.length, B, L, C], hidden, false);
  if (heads.mlmLogits) put('mlm_logits', [B, L, config.vocabSize], padded(out.mlmLogits!, batch, config.vocabSize, L), true);
  if (heads.classifierLogits) {
    put('cls_logits', [B, config.numLabels], out.classifierLogits!.cls!, true);
    put('mean_logits', [B, config.numLabels], out.classifierLogits!.mean!, true);
  }
  return io;
}

function padded(x: FloatArray, batch: PackedBatch, width: number, L: number): FloatArray {
  return repad(fp64, x, batch, width, L);
}

function f64Tensor(shape: number[], values: FloatArray): Tensor {
  return { dtype: 'F64', shape, data: values instanceof Float64Array ? values : Float64Array.from(values) };
}

// ---- case folders ----

const DTYPE_NAMES: Partial<Record<DType, string>> = { I32: 'int32', F32: 'float32', F64: 'float64' };

/** case.json as the shipped cases have it, plus how it was made. */
export function caseJson(name: string, description: string, seed: number | null, config: ModernBertConfig, io: Map<string, Tensor>, made: Record<string, unknown>): Record<string, unknown> {
  const mask = io.get('attention_mask')!;
  const [B, L] = mask.shape;
  const seqLengths = Array.from({ length: B }, (_, b) => (mask.data as Int32Array).subarray(b * L, (b + 1) * L).reduce((a, m) => a + m, 0));
  const layers = Array.from({ length: config.numHiddenLayers }, (_, l) => isGlobalLayer(config, l));
  return {
    name,
    description,
    seed,
    batch_size: B,
    padded_length: L,
    seq_lengths: seqLengths,
    layer_kinds: layers.map((g) => (g ? 'global' : 'local')),
    rope_theta_per_layer: layers.map((g) => (g ? config.globalRopeTheta : config.localRopeTheta)),
    window_half_width: slidingWindow(config),
    head_dim: config.headDim,
    config_classifier_pooling: config.classifierPooling,
    io_tensors: Object.fromEntries([...io].map(([n, t]) => [n, [DTYPE_NAMES[t.dtype], t.shape]])),
    made_by: { tool: 'modernbert golden make', oracle: ORACLE, padded_positions: PADDED_POSITIONS, mlm_logits: MLM_RULE, ...made },
  };
}

/** The weight files of a checkpoint folder: model.safetensors, or the index and its shards. */
function weightFiles(dir: string): string[] {
  if (existsSync(join(dir, 'model.safetensors'))) return ['model.safetensors'];
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  return ['model.safetensors.index.json', ...new Set(Object.values(index.weight_map as Record<string, string>))];
}

/**
 * Writes one case folder: config.json (copied), the weights (copied, hard-linked from `linkFrom` when given,
 * or a weights.json pointer), io.safetensors and case.json.
 */
function writeCaseFolder(dir: string, folder: CheckpointFolder, io: Map<string, Tensor>, json: Record<string, unknown>, weights: WeightsMode, linkFrom?: string): void {
  mkdirSync(dir);
  copyFileSync(join(folder.dir, 'config.json'), join(dir, 'config.json'));
  if (weights === 'link') {
    writeFileSync(join(dir, WEIGHTS_POINTER), JSON.stringify({ model: folder.dir }, null, 2) + '\n');
  } else {
    for (const f of weightFiles(folder.dir)) {
      if (linkFrom) {
        try {
          linkSync(join(linkFrom, f), join(dir, f));
          continue;
        } catch {
          // a file system without hard links: copy
        }
      }
      copyFileSync(join(folder.dir, f), join(dir, f));
    }
  }
  writeSafetensors(join(dir, 'io.safetensors'), io, { format: 'pt' });
  writeFileSync(join(dir, 'case.json'), JSON.stringify(json, null, 2) + '\n');
}

/** `--out` must be absent or an empty folder, in a folder that exists. Checked before any work. */
function checkOut(out: string): string {
  const target = resolve(out);
  if (existsSync(target) && (!statSync(target).isDirectory() || readdirSync(target).length > 0)) throw new GoldenInputError(`--out: ${target} exists and is not an empty folder`);
  if (!existsSync(dirname(target))) throw new GoldenInputError(`--out: ${dirname(target)}: folder not found`);
  return target;
}

/**
 * `fill(staged)` creates the folder `staged` inside a temporary folder next to `out`; when complete it is
 * renamed to `out`, so `out` is whole or absent. An existing `out` must be an empty folder. The temporary
 * folder is removed on failure and on process.exit (Ctrl-C).
 */
async function writeAtomically(out: string, fill: (staged: string) => void | Promise<void>): Promise<void> {
  const target = checkOut(out);
  const tmp = mkdtempSync(join(dirname(target), `.${basename(target)}.tmp-`));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  process.on('exit', cleanup);
  try {
    const staged = join(tmp, basename(target));
    await fill(staged);
    if (existsSync(target)) rmdirSync(target);
    renameSync(staged, target);
  } finally {
    cleanup();
    process.off('exit', cleanup);
  }
}

export interface MakeOptions {
  model: string;
  out: string;
  /** one text per line */
  texts?: string;
  /** "65,9" or LENxCOUNT items */
  lengths?: string;
  seed?: number;
  weights?: WeightsMode;
}

/** `golden make`: one case folder from texts or random ids of given lengths. Returns its case.json. */
export async function makeGoldenCase(options: MakeOptions): Promise<Record<string, unknown>> {
  const weights = checkWeightsMode(options.weights);
  if ((options.texts === undefined) === (options.lengths === undefined)) throw new GoldenInputError('give one of --texts FILE or --lengths SPEC');
  checkOut(options.out);
  const seed = options.seed ?? 0;
  const folder = readCheckpointFolder(options.model);
  let sequences: number[][];
  let description: string;
  let inputs: Record<string, unknown>;
  if (options.texts !== undefined) {
    sequences = sequencesFromTexts(folder, options.texts);
    description = `${sequences.length} texts from ${basename(options.texts)}, tokenized with the checkpoint's tokenizer`;
    inputs = { texts: resolve(options.texts) };
  } else {
    const lengths = parseCaseLengths(options.lengths!, folder.config);
    sequences = randomTokenSequences(folder.config, lengths, seed, specialTokenIds(folder));
    description = `random token ids ([CLS] ... [SEP], special ids excluded), lengths ${options.lengths}, seed ${seed}`;
    inputs = { lengths: options.lengths };
  }
  const heads = headOutputs(folder, sequences.map((s) => s.length));
  const io = await oracleIo(folder, sequences, heads);
  const [B, L] = io.get('input_ids')!.shape;
  const mlmNote = `${MLM_RULE}; here ${folder.weights.decoder ? `B*L*V = ${B * L * folder.config.vocabSize}` : 'no MLM head'}: ${heads.mlmLogits ? 'written' : 'not written'}`;
  const json = caseJson(basename(resolve(options.out)), description, options.texts !== undefined ? null : seed, folder.config, io, { model: folder.dir, weights, ...inputs, mlm_logits: mlmNote });
  await writeAtomically(options.out, (staged) => writeCaseFolder(staged, folder, io, json, weights));
  return json;
}

function checkWeightsMode(mode: string | undefined): WeightsMode {
  if (mode === undefined) return 'copy';
  if (!WEIGHTS_MODES.includes(mode as WeightsMode)) throw new GoldenInputError(`--weights must be copy or link, got "${mode}"`);
  return mode as WeightsMode;
}

// ---- stress shapes ----

export interface StressShape {
  /** the case folder's name */
  name: string;
  lengths: number[];
  /** what the shape exercises */
  why: string;
}

/**
 * The shapes that caught real bugs, for this config: single sequences around tile and workgroup edges (1, 63,
 * 64, 65, 128, 129, 513, 4097, 8192), a mixed batch whose longest is a multiple of 32, a batch with a 1-token
 * sequence, and a sequence that the local window cuts on both sides beside a short one. Shapes longer than
 * max_position_embeddings, or with more than `maxTokens` tokens in all, are returned as skipped, with why.
 */
export function stressShapes(config: ModernBertConfig, maxTokens = Infinity): { shapes: StressShape[]; skipped: (StressShape & { reason: string })[] } {
  const span = 2 * slidingWindow(config) + 1; // the tokens a local-layer query sees
  const all: StressShape[] = [
    ...[1, 63, 64, 65, 128, 129, 513, 4097, 8192].map((n) => ({ name: `single-${n}`, lengths: [n], why: `a single sequence, ${n} tokens (tile and workgroup edges)` })),
    { name: 'mixed-96', lengths: [96, 65, 17, 33], why: 'mixed lengths, the longest a multiple of 32' },
    { name: 'one-token', lengths: [45, 1, 7], why: 'a batch holding a 1-token sequence' },
    { name: 'beyond-window', lengths: [3 * span + 2, 5], why: `a sequence the local window (${span} tokens) cuts on both sides, beside a short one` },
  ];
  const shapes: StressShape[] = [];
  const skipped: (StressShape & { reason: string })[] = [];
  for (const shape of all) {
    const longest = Math.max(...shape.lengths);
    const total = shape.lengths.reduce((a, b) => a + b, 0);
    if (longest > config.maxPositionEmbeddings) skipped.push({ ...shape, reason: `${longest} tokens is more than max_position_embeddings (${config.maxPositionEmbeddings})` });
    else if (total > maxTokens) skipped.push({ ...shape, reason: `${total} tokens is more than --max-tokens ${maxTokens}` });
    else shapes.push(shape);
  }
  return { shapes, skipped };
}

/** `--max-tokens N`: a positive integer. */
export function parseMaxTokens(text: string | undefined): number {
  if (text === undefined) return Infinity;
  const n = Number(text);
  if (!(Number.isInteger(n) && n >= 1)) throw new GoldenInputError(`--max-tokens must be a positive integer, got "${text}"`);
  return n;
}

export interface StressOptions {
  model: string;
  out: string;
  seed?: number;
  weights?: WeightsMode;
  maxTokens?: number;
}

/**
 * `golden make --stress`: one case folder per stress shape under `out` (encoder outputs only, to stay small),
 * plus stress.json listing the shapes written and skipped. Each case's seed is the seed plus its index.
 */
export async function makeStressSet(options: StressOptions, progress: (line: string) => void = () => {}): Promise<{ written: StressShape[]; skipped: (StressShape & { reason: string })[] }> {
  const weights = checkWeightsMode(options.weights);
  checkOut(options.out);
  const seed = options.seed ?? 0;
  const folder = readCheckpointFolder(options.model);
  const { shapes, skipped } = stressShapes(folder.config, options.maxTokens);
  if (shapes.length === 0) throw new GoldenInputError(`--max-tokens ${options.maxTokens}: every stress shape was skipped`);
  const excluded = specialTokenIds(folder);
  await writeAtomically(options.out, async (set) => {
    mkdirSync(set);
    let firstCase: string | undefined;
    for (const [i, shape] of shapes.entries()) {
      // The oracle lets the event loop run every few milliseconds, so Ctrl-C (exitOnSignals) stops a long set; the temporary folder goes with it.
      const io = await oracleIo(folder, randomTokenSequences(folder.config, shape.lengths, seed + i, excluded), { mlmLogits: false, classifierLogits: false });
      const json = caseJson(shape.name, `stress: ${shape.why}`, seed + i, folder.config, io, { model: folder.dir, weights, stress: true, mlm_logits: 'not in stress cases (encoder outputs only)' });
      // The weights are the same in every case: copied once, hard-linked into the others.
      writeCaseFolder(join(set, shape.name), folder, io, json, weights, firstCase);
      firstCase ??= join(set, shape.name);
      progress(`made ${shape.name} (lengths ${shape.lengths.join(',')})\n`);
    }
    const index = { model: folder.dir, seed, written: shapes, skipped };
    writeFileSync(join(set, 'stress.json'), JSON.stringify(index, null, 2) + '\n');
  });
  for (const s of skipped) progress(`skipped ${s.name} (lengths ${s.lengths.join(',')}): ${s.reason}\n`);
  return { written: shapes, skipped };
}
