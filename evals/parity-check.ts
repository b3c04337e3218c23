// Parity of a backend against a golden case (config, checkpoint tensors, io tensors): run the inputs, compare
// every expected output present, on real tokens only (attention_mask == 1). No file IO here, so the same check
// runs in a browser; evals/parity.ts reads a case folder in Node.
import type { ModernBertConfig } from '../reference/config.ts';
import { weightsFromTensors } from '../reference/checkpoint.ts';
import { type ForwardOutput, forwardAsync, validateBatch } from '../reference/modernbert.ts';
import { firstNonFinite } from '../reference/finite.ts';
import { type FloatArray, fp32, precisionByName } from '../reference/ops.ts';
import { type Tensor, toFloat16Bits, toFloat32, toFloat64, toInt32 } from '../reference/safetensors.ts';
import { type PackedBatch, packPadded, paddedRowOfToken } from '../reference/unpad.ts';
import { type AttentionChoice, type GemmChoice, type KernelChoice, kernelChoiceProblem } from '../optimized/webgpu/kernels/tiles.ts';

export type PrecisionName = 'fp32' | 'fp64';
/** Storage dtype: f16 (webgpu only) stores weights and activations as f16 and computes in f32. */
export type StorageName = 'f32' | 'f16';

/** The parity contract: one JSON line, keys in this order. */
export interface ParityResult {
  case: string;
  backend: string;
  precision: PrecisionName;
  max_abs_err: Record<string, number>;
  tolerance: Record<string, number>;
  pass: boolean;
  /** backends with modes (gpujs): the mode that ran, and why auto selection fell back (null when it did not) */
  mode?: string;
  fallback?: string | null;
  /** present when kernels were forced (`--gemm`, `--attention`, webgpu) or f16 put them on subgroup matrices (an adapter with them): those kernels, and whether subgroup-matrix operations were emulated (where the device has none) */
  gemm?: GemmChoice;
  attention?: AttentionChoice;
  emulated?: boolean;
  /** present when a dtype was asked for (`--dtype`): a backend's storage, or the compute dtype of `--outputs` */
  dtype?: StorageName | ComputeDtype;
  /** present when an output held a NaN or an infinity: the first, named (the case then fails) */
  non_finite?: string;
}

/** fp32 tolerances (golden README): 1e-4 on hidden states and classification logits, 2e-4 on MLM logits. */
export const FP32_TOLERANCE: Record<string, number> = {
  last_hidden_state: 1e-4,
  hidden_states: 1e-4,
  mlm_logits: 2e-4,
  cls_logits: 1e-4,
  mean_logits: 1e-4,
  token_logits: 1e-4,
  start_logits: 1e-4,
  end_logits: 1e-4,
};
/**
 * f16 storage (webgpu --dtype f16) is checked against the fp32 golden tensors with tolerances made for the case:
 * F16_FACTOR times the error of the fp32 reference run on the same weights rounded to f16 (every 2-D tensor:
 * what the engine stores as f16), plus F16_ACTIVATION_ULPS half-ulps of f16 (2^-11 relative) of the output's
 * largest magnitude (what f16 activations add, which the weights' error can understate on an output of a few
 * values), plus the fp32 tolerance. docs/engine.md, "Half precision", has the measured numbers.
 */
export const F16_FACTOR = 3;
export const F16_ACTIVATION_ULPS = 8;
/**
 * Outputs of an implementation that computes in float16 / bfloat16 (`parity --outputs FILE --dtype f16|bf16`),
 * against the float32 golden tensors: 4 times the worst error of Hugging Face transformers itself in that dtype
 * (eager, SDPA, and autocast on float32 weights; CPU) over the golden cases, rounded up to one significant digit.
 * test/fixtures/golden/measure_low_precision.py measures them; the golden README has the numbers and the
 * porting mistakes these still catch (and the few they do not).
 */
export type ComputeDtype = 'f16' | 'bf16';
export const LOW_PRECISION_TOLERANCE: Record<ComputeDtype, Record<string, number>> = {
  f16: { last_hidden_state: 0.06, hidden_states: 0.4, mlm_logits: 0.7, cls_logits: 0.06, mean_logits: 0.04, token_logits: 0.1, start_logits: 0.06, end_logits: 0.1 },
  bf16: { last_hidden_state: 0.5, hidden_states: 2, mlm_logits: 4, cls_logits: 0.4, mean_logits: 0.2, token_logits: 0.6, start_logits: 0.5, end_logits: 0.6 },
};
/** fp64 (the oracle) against the float64 golden tensors. */
export const FP64_TOLERANCE: Record<string, number> = {
  last_hidden_state_f64: 1e-9,
  mlm_logits_f64: 1e-9,
  cls_logits_f64: 1e-9,
  mean_logits_f64: 1e-9,
  token_logits_f64: 1e-9,
  start_logits_f64: 1e-9,
  end_logits_f64: 1e-9,
};

/** Bad input to a parity run: the CLI exits 2 with this one-line message. */
export class ParityInputError extends Error {
  override name = 'ParityInputError';
}

/** A golden case in memory. `ioFile` and `checkpointSource` name the files in error messages. */
export interface GoldenCase {
  name: string;
  config: ModernBertConfig;
  checkpoint: Map<string, Tensor>;
  checkpointSource: string;
  io: Map<string, Tensor>;
  ioFile: string;
}

export type Runner = (golden: GoldenCase, precision: PrecisionName, batch: PackedBatch, want: WantedOutputs, dtype: StorageName, kernels?: KernelChoice) => Promise<RunnerOutput>;
/** A backend's outputs; a backend with modes also says which one ran, and forced kernels whether they were emulated. */
export type RunnerOutput = ForwardOutput & { ran?: { mode: string; fallback: string | null } | (KernelChoice & { emulated: boolean }) };
export interface WantedOutputs {
  hiddenStates: boolean;
  mlmLogits: boolean;
  pooling: ('cls' | 'mean')[];
  /** token classification logits, or question answering's start/end logits (their two columns) */
  tokenLogits: boolean;
}

/** Backends that `modernbert parity` can run. Later backends register here with the same contract. */
export const PARITY_BACKENDS: Record<string, Runner> = {
  async reference({ config, checkpoint, checkpointSource }, precisionName, batch, want, dtype) {
    onlyF32('reference', dtype);
    const precision = precisionByName(precisionName);
    const weights = weightsFromTensors(config, checkpoint, precision, checkpointSource);
    return forwardAsync({ config, weights, precision }, batch, { ...want, allowLongSequences: true });
  },
  async webgpu({ config, checkpoint, checkpointSource }, precision, batch, want, dtype, kernels = {}) {
    if (precision !== 'fp32') throw new ParityInputError('--precision: the webgpu backend computes in fp32 only');
    const weights = weightsFromTensors(config, checkpoint, fp32, checkpointSource);
    // Loaded on demand: the reference must not need WebGPU.
    const { sharedDevice } = await import('../optimized/webgpu/device.ts');
    const gpu = await import('../optimized/webgpu/modernbert.ts');
    const { loadTuning } = await import('../optimized/webgpu/tuning-cache.ts');
    const ctx = await sharedDevice();
    const model = gpu.createWebGpuModel(ctx, { config, weights }, dtype, (await loadTuning(ctx.adapter)).tuning, kernels);
    try {
      const out = await gpu.forward(model, batch, { ...want, allowLongSequences: true });
      // the kernels the model ran: forced, or the subgroup-matrix ones f16 takes where the adapter has them
      const ran = model.kernels;
      const matrices = ran.gemm === 'sgmat' || ran.attention === 'flash_sgmat';
      return ran.gemm || ran.attention ? { ...out, ran: { ...ran, emulated: matrices && !ctx.subgroupMatrix } } : out;
    } finally {
      gpu.destroyModel(model);
    }
  },
  gpujs: (golden, precision, batch, want, dtype) => runGpuJs('auto', golden, precision, batch, want, dtype),
  'gpujs:webgpu': (golden, precision, batch, want, dtype) => runGpuJs('webgpu', golden, precision, batch, want, dtype),
  'gpujs:webasm': (golden, precision, batch, want, dtype) => runGpuJs('webasm', golden, precision, batch, want, dtype),
  'gpujs:cpu': (golden, precision, batch, want, dtype) => runGpuJs('cpu', golden, precision, batch, want, dtype),
};

function onlyF32(backend: string, dtype: StorageName): void {
  if (dtype !== 'f32') throw new ParityInputError(`--dtype ${dtype}: the ${backend} backend stores f32 only (f16 storage is webgpu's)`);
}

async function runGpuJs(mode: 'auto' | 'webgpu' | 'webasm' | 'cpu', { config, checkpoint, checkpointSource }: GoldenCase, precision: PrecisionName, batch: PackedBatch, want: WantedOutputs, dtype: StorageName): Promise<RunnerOutput> {
  onlyF32('gpujs', dtype);
  if (precision !== 'fp32') throw new ParityInputError('--precision: the gpujs backend computes in fp32 only');
  const weights = weightsFromTensors(config, checkpoint, fp32, checkpointSource);
  // Loaded on demand: the reference must not need gpu.js.
  const gpujs = await import('../optimized/gpujs/modernbert.ts');
  const model = await gpujs.createGpuJsModel({ config, weights }, mode);
  try {
    return { ...(await gpujs.forward(model, batch, { ...want, allowLongSequences: true })), ran: { mode: model.mode, fallback: model.fallback } };
  } finally {
    await gpujs.destroyModel(model);
  }
}

export function parityRunner(backend: string): Runner {
  const runner = PARITY_BACKENDS[backend];
  if (!runner) throw new ParityInputError(`unknown backend "${backend}" (available: ${Object.keys(PARITY_BACKENDS).join(', ')})`);
  return runner;
}

/**
 * Runs a backend on a golden case and compares its outputs with the case's expected tensors. `dtype` (the
 * storage, f32 unless asked) is named in the result when given.
 */
export async function checkParity(golden: GoldenCase, backend: string, precision: PrecisionName, dtype?: StorageName, kernels: KernelChoice = {}): Promise<ParityResult> {
  return (await evaluateParity(golden, backend, precision, dtype, undefined, kernels)).result;
}

/**
 * Another implementation's outputs in place of a backend: a runner that returns them, the golden names it has, and
 * the dtype it computed in when that was float16 / bfloat16 (LOW_PRECISION_TOLERANCE then applies).
 */
export interface ExternalOutputs {
  runner: Runner;
  provides: ReadonlySet<string>;
  dtype?: ComputeDtype;
}

/** checkParity, plus the mean absolute error of each output (for `modernbert eval parity`); `external` replaces the backend by given outputs. */
export async function evaluateParity(golden: GoldenCase, backend: string, precision: PrecisionName, dtype?: StorageName, external?: ExternalOutputs, kernels: KernelChoice = {}): Promise<{ result: ParityResult; meanAbsErr: Record<string, number> }> {
  const forced = Object.keys(kernels).filter((k) => kernels[k as keyof KernelChoice] !== undefined);
  if (forced.length && backend !== 'webgpu') throw new ParityInputError(`--${forced[0]} chooses a kernel of the webgpu backend: it does not apply to ${backend}`);
  const problem = kernelChoiceProblem(kernels, dtype ?? 'f32');
  if (problem) throw new ParityInputError(`--${problem.replace('dtype f16', '--dtype f16')}`);
  if (dtype === 'f16' && precision !== 'fp32') throw new ParityInputError(`--dtype f16 computes in fp32: --precision ${precision} does not apply`);
  if (external?.dtype && precision !== 'fp32') throw new ParityInputError(`--dtype ${external.dtype}: half-precision outputs are checked against the float32 golden tensors; --precision ${precision} does not apply`);
  const runner = external?.runner ?? parityRunner(backend);
  const { config, io, ioFile } = golden;
  const { batch, B, L } = caseBatch(golden);

  const tolerance = external?.dtype ? LOW_PRECISION_TOLERANCE[external.dtype] : precision === 'fp64' ? FP64_TOLERANCE : FP32_TOLERANCE;
  const C = config.hiddenSize;
  const expectedShape: Record<string, number[]> = {
    last_hidden_state: [B, L, C],
    hidden_states: [config.numHiddenLayers + 1, B, L, C],
    mlm_logits: [B, L, config.vocabSize],
    cls_logits: [B, config.numLabels],
    mean_logits: [B, config.numLabels],
    token_logits: [B, L, config.numLabels],
    start_logits: [B, L],
    end_logits: [B, L],
  };
  const base = (name: string) => name.replace(/_f64$/, '');
  const outputs = Object.keys(tolerance).filter((name) => io.has(name) && (!external || external.provides.has(base(name))));
  if (outputs.length === 0 && external) throw new ParityInputError(`${ioFile}: the case has none of the outputs given (${[...external.provides].join(', ')}) for ${precision}`);
  if (outputs.length === 0) throw new ParityInputError(`${ioFile}: no expected outputs for ${precision} (looked for ${Object.keys(tolerance).join(', ')})`);
  const qa = outputs.find((n) => /^(start|end)_logits/.test(n));
  if (qa && config.numLabels !== 2) throw new ParityInputError(`${ioFile}: field "${qa}" is a question answering output, which needs num_labels 2 in config.json (it has ${config.numLabels})`);
  for (const name of outputs) {
    const shape = expectedShape[base(name)];
    const got = io.get(name)!.shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new ParityInputError(`${ioFile}: field "${name}" has shape [${got.join(', ')}], expected [${shape.join(', ')}] from config.json and input_ids`);
    }
  }
  const want: WantedOutputs = {
    hiddenStates: outputs.some((n) => base(n) === 'hidden_states'),
    mlmLogits: outputs.some((n) => base(n) === 'mlm_logits'),
    pooling: (['cls', 'mean'] as const).filter((pl) => outputs.some((n) => base(n) === `${pl}_logits`)),
    tokenLogits: outputs.some((n) => /^(token|start|end)_logits$/.test(base(n))),
  };
  const out = await runner(golden, precision, batch, want, dtype ?? 'f32', kernels);

  const rows = paddedRowOfToken(batch, L);
  const measure = (got: ForwardOutput): Record<string, AbsError> => {
    const errors: Record<string, AbsError> = {};
    for (const name of outputs) {
      const expected = toFloat64(io.get(name)!);
      const b = base(name);
      const e = (errors[name] = new AbsError());
      if (b === 'last_hidden_state') e.addTokens(got.lastHiddenState, expected, rows, C, 0);
      else if (b === 'mlm_logits') e.addTokens(got.mlmLogits!, expected, rows, config.vocabSize, 0);
      else if (b === 'hidden_states') got.hiddenStates!.forEach((h, layer) => e.addTokens(h, expected, rows, C, layer * B * L * C));
      else if (b === 'token_logits') e.addTokens(got.tokenLogits!, expected, rows, config.numLabels, 0);
      else if (b === 'start_logits' || b === 'end_logits') e.addTokens(column(got.tokenLogits!, 2, b === 'start_logits' ? 0 : 1), expected, rows, 1, 0);
      else e.addAll(got.classifierLogits![b === 'cls_logits' ? 'cls' : 'mean']!, expected);
    }
    return errors;
  };
  const errors = measure(out);
  const maxAbsErr = Object.fromEntries(outputs.map((n) => [n, errors[n].max]));
  let limits = Object.fromEntries(outputs.map((n) => [n, tolerance[n]]));
  if (dtype === 'f16') {
    const halfWeights = measure(await PARITY_BACKENDS.reference(withHalfMatrices(golden), 'fp32', batch, want, 'f32'));
    limits = Object.fromEntries(outputs.map((n) => [n, F16_FACTOR * halfWeights[n].max + F16_ACTIVATION_ULPS * 2 ** -11 * errors[n].scale + tolerance[n]]));
  }
  const result: ParityResult = {
    case: golden.name,
    backend,
    precision,
    max_abs_err: maxAbsErr,
    tolerance: limits,
    // NaN compares false, so a NaN output fails.
    pass: outputs.every((n) => maxAbsErr[n] <= limits[n]),
  };
  const nonFinite = firstNonFinite(out);
  if (nonFinite) Object.assign(result, { pass: false, non_finite: nonFinite });
  if (out.ran) Object.assign(result, out.ran);
  if (dtype ?? external?.dtype) result.dtype = dtype ?? external?.dtype;
  return { result, meanAbsErr: Object.fromEntries(outputs.map((n) => [n, errors[n].sum / errors[n].count])) };
}

/** The case's inputs as a packed batch, with the padded shape [B, L] of its io tensors; bad fields are errors naming them. */
export function caseBatch({ config, io, ioFile }: GoldenCase): { batch: PackedBatch; B: number; L: number } {
  const ids = requireTensor(io, 'input_ids', ioFile);
  if (ids.shape.length !== 2) throw new ParityInputError(`${ioFile}: field "input_ids" must be [B, L], got [${ids.shape.join(', ')}]`);
  const [B, L] = ids.shape;
  const mask = io.get('attention_mask');
  if (mask && (mask.shape.length !== 2 || mask.shape[0] !== B || mask.shape[1] !== L)) {
    throw new ParityInputError(`${ioFile}: field "attention_mask" must be [${B}, ${L}] like input_ids, got [${mask.shape.join(', ')}]`);
  }
  const inputIds = toInt32(ids, `${ioFile}: field "input_ids"`);
  let batch: PackedBatch;
  try {
    batch = packPadded({ inputIds, attentionMask: mask ? toInt32(mask, `${ioFile}: field "attention_mask"`) : undefined, batchSize: B, seqLen: L });
  } catch (e) {
    throw new ParityInputError(`${ioFile}: field "${mask ? 'attention_mask' : 'input_ids'}": ${(e as Error).message}`);
  }
  try {
    validateBatch(config, batch, { allowLongSequences: true }); // HF's eager path does not enforce the length either
  } catch (e) {
    throw new ParityInputError(`${ioFile}: field "input_ids": ${(e as Error).message}`);
  }
  return { batch, B, L };
}

/** The case with every 2-D tensor (linear weights, embeddings: what f16 storage stores as f16) rounded to f16. */
function withHalfMatrices(golden: GoldenCase): GoldenCase {
  const checkpoint = new Map<string, Tensor>();
  for (const [name, t] of golden.checkpoint) {
    checkpoint.set(name, t.shape.length === 2 ? { dtype: 'F16', shape: t.shape, data: toFloat16Bits(toFloat32(t, `${golden.checkpointSource}: tensor "${name}"`)) } : t);
  }
  return { ...golden, checkpoint };
}

/** Column c of a [rows, width] matrix. */
function column(m: FloatArray, width: number, c: number): Float64Array {
  return Float64Array.from({ length: m.length / width }, (_, r) => m[r * width + c]);
}

function requireTensor(io: Map<string, Tensor>, name: string, file: string): Tensor {
  const t = io.get(name);
  if (!t) throw new ParityInputError(`${file}: field "${name}" is missing`);
  return t;
}

/** Absolute errors of an output: the max (NaN propagates, so a NaN fails) and the sum for the mean. */
class AbsError {
  max = 0;
  sum = 0;
  count = 0;
  /** the largest expected magnitude compared */
  scale = 0;

  private add(got: number, want: number): void {
    const d = Math.abs(got - want);
    if (!(d <= this.max)) this.max = d;
    this.sum += d;
    this.count++;
    this.scale = Math.max(this.scale, Math.abs(want));
  }

  /** got[T, width] (packed) against expected padded [.., B*L, width] from `offset`, on real tokens only. */
  addTokens(got: FloatArray, expected: Float64Array, rows: Int32Array, width: number, offset: number): void {
    for (let t = 0; t < rows.length; t++) {
      for (let c = 0; c < width; c++) this.add(got[t * width + c], expected[offset + rows[t] * width + c]);
    }
  }

  addAll(got: FloatArray, expected: Float64Array): void {
    for (let i = 0; i < expected.length; i++) this.add(got[i], expected[i]);
  }
}
