// `modernbert diff`: where an implementation first diverges from the fp64 reference, and why.
//
// Its outputs are compared stage by stage in model order (embeddings, each layer's output, final norm,
// heads) with the reference run in fp64 on the case's inputs, on real tokens only. In the first stage over
// tolerance the errors are broken down per sequence and position, and their pattern (a local layer where
// the tokens whose window holds their whole sequence match, only padded sequences diverge) suggests causes. A catalog of porting mistakes seen in public ports, each reproduced by the reference, confirms a
// cause when the reference with that mistake matches the outputs within the same tolerances.
import { type ModernBertConfig, isGlobalLayer, slidingWindow } from '../reference/config.ts';
import { type ModernBertWeights, weightsFromTensors } from '../reference/checkpoint.ts';
import { type ForwardOutput, forwardAsync } from '../reference/modernbert.ts';
import { type FloatArray, type Precision, fp64 } from '../reference/ops.ts';
import { roundToHalf, toInt32 } from '../reference/safetensors.ts';
import { type PackedBatch, packPadded, unpadRows } from '../reference/unpad.ts';
import { FP32_TOLERANCE, type GoldenCase, type WantedOutputs, caseBatch } from './parity-check.ts';

/** One stage's comparison: `kind` says where in the model it is (a layer's attention kind, or a head). */
export interface StageDiff {
  stage: string;
  kind: 'embeddings' | 'global' | 'local' | 'final_norm' | 'head';
  max_abs_err: number;
  tolerance: number;
  pass: boolean;
}

/** Within the first diverging stage: one sequence (per-sequence heads have no positions). */
export interface SequenceDiff {
  sequence: number;
  length: number;
  /** shorter than the case's padded length: its row in [B, L] holds padding */
  padded: boolean;
  max_abs_err: number;
  /** tokens over tolerance, and the first position (null when none) */
  failing_tokens: number;
  first_failing_position: number | null;
}

export interface Divergence {
  stage: string;
  kind: StageDiff['kind'];
  /** the layer index for layer stages */
  layer: number | null;
  max_abs_err: number;
  tolerance: number;
  sequences: SequenceDiff[];
  /** NaN or infinite values in this stage, over real tokens */
  non_finite: number;
}

/** A known porting mistake, reproduced by the reference and compared with the outputs. */
export interface MistakeCheck {
  mistake: string;
  description: string;
  /** the largest error between the reference with this mistake and the outputs, over every stage compared */
  max_abs_err: number;
  /** every stage within tolerance: this mistake explains the outputs */
  matches: boolean;
  /** the mistake changes nothing on this case (so it cannot be told apart here) */
  no_effect: boolean;
}

export interface DiffReport {
  case: string;
  /** "outputs" or the backend that ran */
  source: string;
  stages: StageDiff[];
  first_divergence: Divergence | null;
  /** what the pattern of the first divergence suggests, most specific first */
  patterns: { pattern: string; detail: string }[];
  /** mistakes of the catalog whose reproduction matches the outputs */
  likely_causes: string[];
  catalog: MistakeCheck[];
  pass: boolean;
}

/** The implementation under test: its outputs for the case's batch (packed, real tokens only). */
export type Candidate = (batch: PackedBatch, want: WantedOutputs) => Promise<ForwardOutput>;

/**
 * Compares a candidate with the fp64 reference stage by stage on a golden case. `want` says which outputs the
 * candidate gives (hidden states make the layer-by-layer comparison); `catalog` runs the known mistakes when
 * a stage diverges; `tolerance` (by golden output name; fp32's by default) is each stage's limit.
 */
export async function diffCase(golden: GoldenCase, source: string, candidate: Candidate, want: WantedOutputs, options: { catalog?: boolean; tolerance?: Record<string, number> } = {}): Promise<DiffReport> {
  const { config } = golden;
  const tolerance = options.tolerance ?? FP32_TOLERANCE;
  const { batch, L } = caseBatch(golden);
  const weights = weightsFromTensors(config, golden.checkpoint, fp64, golden.checkpointSource);
  const oracle = await forwardAsync({ config, weights, precision: fp64 }, batch, { ...want, allowLongSequences: true });
  const got = await candidate(batch, want);

  const wantStages = stagesOf(config, oracle, tolerance);
  const gotStages = stagesOf(config, got, tolerance);
  const compared = [...wantStages.keys()].filter((s) => gotStages.has(s));
  if (compared.length === 0) throw new Error(`${golden.ioFile}: the outputs have no stage to compare (give hidden_states, last_hidden_state or a head's logits)`);
  const errors = new Map(compared.map((s) => [s, rowErrors(gotStages.get(s)!, wantStages.get(s)!)]));
  const stages: StageDiff[] = compared.map((s) => {
    const { kind, tolerance } = wantStages.get(s)!;
    const max = maxOf(errors.get(s)!);
    return { stage: s, kind, max_abs_err: max, tolerance, pass: max <= tolerance };
  });

  const failing = stages.find((s) => !s.pass);
  const report: DiffReport = { case: golden.name, source, stages, first_divergence: null, patterns: [], likely_causes: [], catalog: [], pass: !failing };
  if (!failing) return report;

  const stage = wantStages.get(failing.stage)!;
  const rowErr = errors.get(failing.stage)!;
  const divergence: Divergence = {
    stage: failing.stage,
    kind: failing.kind,
    layer: stage.layer,
    max_abs_err: failing.max_abs_err,
    tolerance: failing.tolerance,
    sequences: sequenceDiffs(batch, L, rowErr, stage),
    non_finite: countNonFinite(gotStages.get(failing.stage)!.data),
  };
  report.first_divergence = divergence;
  report.patterns = patternsOf(config, divergence, rowErr, batch);
  if (options.catalog ?? true) {
    report.catalog = await checkMistakes({ config, weights }, golden, want, wantStages, gotStages, tolerance);
    report.likely_causes = report.catalog.filter((m) => m.matches).map((m) => m.mistake);
  }
  return report;
}

/** A stage's values: [rows, width] per token (rows = T) or per sequence (rows = B). */
interface Stage {
  data: FloatArray;
  width: number;
  perToken: boolean;
  kind: StageDiff['kind'];
  layer: number | null;
  tolerance: number;
}

/** The stages an output holds, in model order. */
function stagesOf(config: ModernBertConfig, out: ForwardOutput, tol: Record<string, number>): Map<string, Stage> {
  const C = config.hiddenSize;
  const stages = new Map<string, Stage>();
  out.hiddenStates?.forEach((data, i) => {
    if (i === 0) stages.set('embeddings', { data, width: C, perToken: true, kind: 'embeddings', layer: null, tolerance: tol.hidden_states });
    else stages.set(`layer ${i - 1}`, { data, width: C, perToken: true, kind: isGlobalLayer(config, i - 1) ? 'global' : 'local', layer: i - 1, tolerance: tol.hidden_states });
  });
  if (out.lastHiddenState.length) stages.set('final_norm', { data: out.lastHiddenState, width: C, perToken: true, kind: 'final_norm', layer: null, tolerance: tol.last_hidden_state });
  if (out.mlmLogits) stages.set('mlm_logits', { data: out.mlmLogits, width: config.vocabSize, perToken: true, kind: 'head', layer: null, tolerance: tol.mlm_logits });
  if (out.tokenLogits) stages.set('token_logits', { data: out.tokenLogits, width: out.tokenLogits.length / out.batch.totalTokens, perToken: true, kind: 'head', layer: null, tolerance: tol.token_logits });
  for (const pooling of ['cls', 'mean'] as const) {
    const logits = out.classifierLogits?.[pooling];
    if (logits) stages.set(`${pooling}_logits`, { data: logits, width: config.numLabels, perToken: false, kind: 'head', layer: null, tolerance: tol[`${pooling}_logits`] });
  }
  return stages;
}

/** The largest absolute error of each row (NaN when a value is NaN, so it fails). */
function rowErrors(got: Stage, want: Stage): Float64Array {
  const rows = want.data.length / want.width;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let c = 0; c < want.width; c++) {
      const d = Math.abs(got.data[r * want.width + c] - want.data[r * want.width + c]);
      if (!(d <= max)) max = d;
    }
    out[r] = max;
  }
  return out;
}

function maxOf(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) if (!(a[i] <= max)) max = a[i];
  return max;
}

function countNonFinite(a: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) n++;
  return n;
}

function sequenceDiffs(batch: PackedBatch, L: number, rowErr: Float64Array, stage: Stage): SequenceDiff[] {
  return Array.from({ length: batch.batchSize }, (_, b) => {
    const start = batch.cuSeqlens[b];
    const length = batch.cuSeqlens[b + 1] - start;
    const errs = stage.perToken ? rowErr.subarray(start, start + length) : rowErr.subarray(b, b + 1);
    let failing = 0;
    let first: number | null = null;
    errs.forEach((e, i) => {
      if (e <= stage.tolerance) return;
      failing++;
      first ??= i;
    });
    return { sequence: b, length, padded: length < L, max_abs_err: maxOf(errs), failing_tokens: failing, first_failing_position: stage.perToken ? first : null };
  });
}

/** What the first divergence's pattern points at, the specific patterns (who diverges) before where it is. */
function patternsOf(config: ModernBertConfig, d: Divergence, rowErr: Float64Array, batch: PackedBatch): DiffReport['patterns'] {
  const patterns: DiffReport['patterns'] = [];
  const add = (pattern: string, detail: string) => patterns.push({ pattern, detail });
  const failingSeqs = d.sequences.filter((s) => s.failing_tokens > 0);
  const w = slidingWindow(config);

  if (d.non_finite > 0) add('non_finite', `${d.non_finite} NaN or infinite values in ${d.stage}: an overflow (f16 activations) or a fully masked softmax row`);
  if (failingSeqs.length && failingSeqs.every((s) => s.padded) && d.sequences.some((s) => !s.padded && s.failing_tokens === 0)) {
    add('padded_only', `only sequences with padding diverge (${failingSeqs.map((s) => s.sequence).join(', ')}): the padding mask (padded keys must not be attended to)`);
  }
  let windowPattern = false;
  if (d.kind === 'local') {
    // A query within w of both ends of its sequence sees every key: the window cannot change its output.
    let whole = 0, wholeFailing = 0, cut = 0, cutFailing = 0;
    for (let b = 0; b < batch.batchSize; b++) {
      const n = batch.cuSeqlens[b + 1] - batch.cuSeqlens[b];
      for (let i = 0; i < n; i++) {
        const failed = !(rowErr[batch.cuSeqlens[b] + i] <= d.tolerance);
        if (i - w <= 0 && i + w >= n - 1) (whole++, wholeFailing += +failed);
        else (cut++, cutFailing += +failed);
      }
    }
    windowPattern = whole > 0 && cut > 0 && wholeFailing === 0 && cutFailing >= cut / 2;
    if (windowPattern) add('window', `${d.stage} is a local layer (window ±${w}): every token whose window holds its whole sequence matches (${whole}), and ${cutFailing} of the ${cut} whose window cuts it do not: the sliding window (its width, < against <=, or none)`);
  }

  if (d.kind === 'local' && !windowPattern) add('local_layer', `the first divergence is ${d.stage}, a local layer (window ±${w}), after the layers before it matched: the sliding window or the local RoPE theta (${config.localRopeTheta})`);
  if (d.kind === 'global' && d.layer! > 0) add('global_layer', `the first divergence is ${d.stage}, a global layer, after local layers matched: which layers are global (layer_types), or the global RoPE theta (${config.globalRopeTheta})`);
  if (d.layer === 0) add('layer_0', 'layer 0 diverges, the first layer to use attention, RoPE and the MLP: the padding mask, the Wqkv layout [3, heads, head_dim], RoPE, an attn_norm on layer 0 (HF has none), the GLU halves (activation on the first) or the activation');
  if (d.kind === 'embeddings') add('embeddings', 'the embeddings diverge: the token embedding lookup or embeddings.norm (eps, bias)');
  if (d.kind === 'final_norm') add('final_norm', 'every layer matches but final_norm does not: its eps or bias, or last_hidden_state taken before final_norm');
  if (d.kind === 'head') add('head', `the encoder matches and ${d.stage} does not: the prediction head (dense, activation, norm), ${d.stage === 'mlm_logits' ? 'the decoder (tied to the embeddings, with decoder.bias when decoder_bias)' : 'the pooling or the classifier'}`);
  return patterns;
}

export interface ReferenceModel {
  config: ModernBertConfig;
  weights: ModernBertWeights;
}

/** Rounds every step to half precision: how a port that builds its RoPE tables in f16 computes them. */
const f16RopeTables: Precision = { name: 'f16', round: roundToHalf, alloc: (n) => new Float64Array(n) };

/** A mistake as a change to the reference: its config, weights, RoPE tables, padding mask or outputs. */
export interface Mistake {
  id: string;
  description: string;
  /** null: the mistake does not apply to this model (e.g. no decoder bias to drop) */
  apply(model: ReferenceModel, maxSeqlen: number): Variant | null;
}
interface Variant {
  model?: ReferenceModel;
  ropePrecision?: Precision;
  /** run with every position of the padded batch real (no attention mask), then keep the real tokens */
  unmaskedPadding?: boolean;
  /** changes the outputs after the run */
  post?: (out: ForwardOutput) => void;
}

const withConfig = (m: ReferenceModel, change: Partial<ModernBertConfig>): Variant => ({ model: { ...m, config: { ...m.config, ...change } } });
const withLayers = (m: ReferenceModel, change: (layer: ModernBertWeights['layers'][number], l: number) => ModernBertWeights['layers'][number]): Variant => ({ model: { ...m, weights: { ...m.weights, layers: m.weights.layers.map(change) } } });

/** The porting mistakes of the golden README's table (and the issue's list), reproduced on the reference. */
export const MISTAKES: readonly Mistake[] = [
  {
    id: 'window_full_width',
    description: 'sliding window ±local_attention instead of ±local_attention//2',
    apply: (m) => withConfig(m, { localAttention: 2 * m.config.localAttention }),
  },
  {
    id: 'window_exclusive',
    description: 'sliding window |i-j| < local_attention//2 instead of <=',
    apply: (m) => (slidingWindow(m.config) >= 1 ? withConfig(m, { localAttention: 2 * (slidingWindow(m.config) - 1) }) : null),
  },
  {
    id: 'no_window',
    description: 'no sliding window: local layers attend to the whole sequence',
    apply: (m, maxSeqlen) => withConfig(m, { localAttention: 2 * maxSeqlen + 2 }),
  },
  {
    id: 'padding_not_masked',
    description: 'padding keys not masked: padded positions attended to as if real',
    apply: () => ({ unmaskedPadding: true }),
  },
  {
    id: 'rope_f16_tables',
    description: 'RoPE cos/sin tables (inverse frequencies, angles) computed in half precision',
    apply: () => ({ ropePrecision: f16RopeTables }),
  },
  {
    id: 'rope_theta_swapped',
    description: 'global and local RoPE theta swapped',
    apply: (m) => (m.config.globalRopeTheta !== m.config.localRopeTheta ? withConfig(m, { globalRopeTheta: m.config.localRopeTheta, localRopeTheta: m.config.globalRopeTheta }) : null),
  },
  {
    id: 'rope_interleaved',
    description: 'GPT-J interleaved RoPE (pairs 2i, 2i+1) instead of rotate_half (pairs i, i+head_dim/2)',
    // q.k is unchanged by permuting q and k alike, so interleaved RoPE equals rotate_half RoPE on q and k rows
    // reordered: reference row i takes row 2i, row i + D/2 takes row 2i + 1.
    apply: (m) => {
      const { hiddenSize: C, headDim: D } = m.config;
      const source = (row: number) => {
        const [s, h, d] = [Math.floor(row / C), Math.floor((row % C) / D), row % D];
        if (s === 2) return row;
        return s * C + h * D + (d < D / 2 ? 2 * d : 2 * (d - D / 2) + 1);
      };
      return withLayers(m, (layer) => ({ ...layer, wqkv: permuteRows(layer.wqkv, source) }));
    },
  },
  {
    id: 'wqkv_heads_first',
    description: 'Wqkv output read as [heads, 3, head_dim] instead of [3, heads, head_dim]',
    apply: (m) => {
      const { hiddenSize: C, headDim: D } = m.config;
      // reference row (s, h, d) = s*C + h*D + d takes the port's row h*3D + s*D + d
      const source = (row: number) => Math.floor((row % C) / D) * 3 * D + Math.floor(row / C) * D + (row % D);
      return withLayers(m, (layer) => ({ ...layer, wqkv: permuteRows(layer.wqkv, source) }));
    },
  },
  {
    id: 'global_layers_shifted',
    description: 'global layers where (i+1) % n == 0 instead of i % n == 0',
    apply: (m) => withConfig(m, { layerTypes: m.config.layerTypes.map((_, i, all) => all[(i + 1) % all.length]) }),
  },
  {
    id: 'layer0_attn_norm',
    description: 'an attn_norm (unit LayerNorm) applied on layer 0, which has none in HF',
    apply: (m) => {
      const C = m.config.hiddenSize;
      const unit = { weight: new Float64Array(C).fill(1), bias: m.config.normBias ? new Float64Array(C) : null };
      return withLayers(m, (layer, l) => (l === 0 ? { ...layer, attnNorm: unit } : layer));
    },
  },
  {
    id: 'glu_halves_swapped',
    description: 'GLU halves swapped: the activation on the second half of Wi instead of the first',
    apply: (m) => {
      const I = m.config.intermediateSize;
      return withLayers(m, (layer) => ({ ...layer, wi: permuteRows(layer.wi, (row) => (row < I ? row + I : row - I)) }));
    },
  },
  {
    id: 'gelu_tanh',
    description: 'tanh-approximate GELU instead of the exact erf GELU in the MLP',
    apply: (m) => (m.config.hiddenActivation === 'gelu' ? withConfig(m, { hiddenActivation: 'gelu_tanh' }) : null),
  },
  {
    id: 'decoder_bias_dropped',
    description: 'the MLM decoder bias dropped',
    apply: (m) => (m.weights.decoder?.bias ? { model: { ...m, weights: { ...m.weights, decoder: { ...m.weights.decoder, bias: null } } } } : null),
  },
  {
    id: 'hidden_states_after_final_norm',
    description: "the last hidden_states entry taken after final_norm (transformers 5's output_hidden_states); the golden one is before it",
    apply: () => ({ post: (out) => out.hiddenStates && (out.hiddenStates[out.hiddenStates.length - 1] = out.lastHiddenState) }),
  },
];

/** A linear layer whose output row r is the original's row source(r) (bias too). */
function permuteRows(w: ModernBertWeights['layers'][number]['wqkv'], source: (row: number) => number): ModernBertWeights['layers'][number]['wqkv'] {
  const K = w.inFeatures;
  const weight = new Float64Array(w.weight.length);
  const bias = w.bias ? new Float64Array(w.bias.length) : null;
  for (let r = 0; r < w.outFeatures; r++) {
    const from = source(r);
    weight.set(w.weight.subarray(from * K, (from + 1) * K), r * K);
    if (bias) bias[r] = w.bias![from];
  }
  return { ...w, weight, bias };
}

/**
 * The reference's outputs with a mistake of the catalog, on the case's batch, computed in the weights'
 * precision `p`; null when the mistake does not apply to this model or case (nothing to change).
 */
export async function reproduceMistake(mistake: Mistake, model: ReferenceModel, p: Precision, golden: GoldenCase, want: WantedOutputs): Promise<ForwardOutput | null> {
  const { batch, B, L } = caseBatch(golden);
  const variant = mistake.apply(model, batch.maxSeqlen);
  if (!variant) return null;
  const run = (b: PackedBatch, w: WantedOutputs) => forwardAsync({ ...(variant.model ?? model), precision: p }, b, { ...w, allowLongSequences: true, ropePrecision: variant.ropePrecision });
  let out: ForwardOutput;
  if (variant.unmaskedPadding) {
    if (batch.totalTokens === B * L) return null; // no padding in this case
    // every padded position run as a real token, then the real tokens' outputs kept (cls pooling reads token 0 either way)
    const full = await run(packPadded({ inputIds: toInt32(golden.io.get('input_ids')!, 'input_ids'), batchSize: B, seqLen: L }), { ...want, pooling: want.pooling.filter((x) => x === 'cls') });
    const real = (x: FloatArray) => unpadRows(p, x, batch, x.length / (B * L), L);
    out = { batch, lastHiddenState: real(full.lastHiddenState), hiddenStates: full.hiddenStates?.map(real), mlmLogits: full.mlmLogits && real(full.mlmLogits), tokenLogits: full.tokenLogits && real(full.tokenLogits), classifierLogits: full.classifierLogits };
  } else {
    out = await run(batch, want);
  }
  variant.post?.(out);
  return out;
}

/** Runs each applicable mistake in fp64 and compares it with the outputs (matches) and with the oracle (no effect). */
async function checkMistakes(model: ReferenceModel, golden: GoldenCase, want: WantedOutputs, oracle: Map<string, Stage>, got: Map<string, Stage>, tolerance: Record<string, number>): Promise<MistakeCheck[]> {
  const checks: MistakeCheck[] = [];
  for (const mistake of MISTAKES) {
    const out = await reproduceMistake(mistake, model, fp64, golden, want);
    if (!out) continue;
    let againstOutputs = 0;
    let matches = true;
    let noEffect = true;
    for (const [name, stage] of stagesOf(model.config, out, tolerance)) {
      if (!got.has(name) || !oracle.has(name)) continue;
      const e = maxOf(rowErrors(got.get(name)!, stage));
      if (!(e <= againstOutputs)) againstOutputs = e;
      if (!(e <= stage.tolerance)) matches = false;
      if (!(maxOf(rowErrors(oracle.get(name)!, stage)) <= stage.tolerance)) noEffect = false;
    }
    checks.push({ mistake: mistake.id, description: mistake.description, max_abs_err: againstOutputs, matches: matches && !noEffect, no_effect: noEffect });
  }
  return checks;
}

/** The report as text: the stage table, the first divergence per sequence, the patterns and the catalog. */
export function formatDiff(r: DiffReport): string {
  const e = (x: number) => (Number.isNaN(x) ? 'NaN' : x.toExponential(1));
  const lines = [`diff ${r.case}: ${r.source} against the fp64 reference, real tokens only`, ''];
  lines.push(`${'stage'.padEnd(14)}${'kind'.padEnd(12)}${'max_abs_err'.padStart(12)}${'tolerance'.padStart(11)}  result`);
  for (const s of r.stages) {
    const mark = s.stage === r.first_divergence?.stage ? 'FAIL  <- first divergence' : s.pass ? 'ok' : 'FAIL';
    lines.push(`${s.stage.padEnd(14)}${s.kind.padEnd(12)}${e(s.max_abs_err).padStart(12)}${e(s.tolerance).padStart(11)}  ${mark}`);
  }
  const d = r.first_divergence;
  if (!d) return lines.concat('', 'no divergence: every stage is within tolerance', '').join('\n');
  lines.push('', `first divergence: ${d.stage} (${d.kind})${d.non_finite ? `, ${d.non_finite} non-finite values` : ''}`);
  for (const s of d.sequences) {
    const where = s.failing_tokens === 0 ? 'within tolerance' : s.first_failing_position === null ? `max error ${e(s.max_abs_err)}` : `${s.failing_tokens} tokens over tolerance from position ${s.first_failing_position}, max error ${e(s.max_abs_err)}`;
    lines.push(`  sequence ${s.sequence} (${s.length} tokens${s.padded ? ', padded' : ''}): ${where}`);
  }
  if (r.patterns.length) lines.push('', 'what the pattern suggests:', ...r.patterns.map((p) => `  - ${p.detail}`));
  if (r.catalog.length) {
    lines.push('', 'known porting mistakes, reproduced by the reference (max error against these outputs):');
    for (const m of r.catalog) lines.push(`  ${(m.matches ? 'MATCH' : m.no_effect ? 'n/a' : '').padEnd(6)}${m.mistake.padEnd(32)}${(m.no_effect ? 'no effect on this case' : e(m.max_abs_err)).padEnd(24)}${m.description}`);
    lines.push('', r.likely_causes.length ? `likely cause: ${r.likely_causes.join(', ')}` : 'no known mistake reproduces these outputs');
  }
  return lines.join('\n') + '\n';
}
