// The measurements themselves, run inside one child process per stage (benchmarks/run.ts spawns them, so one
// backend's JIT state or device cannot slow another's): model forward passes per backend x workload, WebGPU
// kernels at the model's shapes, and the planned maximum batch size.
import { type ModernBertConfig, presetConfig, slidingWindow } from '../reference/config.ts';
import { forward as referenceForward, createModel, randomModel } from '../reference/modernbert.ts';
import type { Checkpoint } from '../reference/checkpoint.ts';
import { loadCheckpoint } from '../reference/files.ts';
import { type Precision, fp32, precisionByName } from '../reference/ops.ts';
import { pack } from '../reference/unpad.ts';
import type { GpuContext } from '../optimized/webgpu/device.ts';
import { MAX_GRID } from '../optimized/webgpu/kernels/launch.ts';
import type { GemmVariant } from '../optimized/webgpu/kernels/gemm.ts';
import type { KernelChoice } from '../optimized/webgpu/kernels/tiles.ts';
import { type DType, encode } from '../optimized/webgpu/kernels/storage.ts';
import { loadTuning } from '../optimized/webgpu/tuning-cache.ts';
import { SUBGROUP_MATRIX_FEATURES, adapterName, featuresText } from './adapter.ts';
import { packageVersion } from './environment.ts';
import { type ResultRow, resultRow } from './results.ts';
import { type Timing, seconds, time } from './timing.ts';
import { PAPER_DOCUMENTS, PAPER_WORKLOADS, type Workload, largestFitting, randomSequences, workloadLengths } from './workloads.ts';
import { formatBytes } from '../reports/format.ts';

/**
 * Model backends `npm run bench` can run: the reference in each precision, the WebGPU engine (f32, f16
 * storage) and its ablations, and the gpu.js model (gpujs: auto selection; gpujs:MODE forces one).
 */
export const MODEL_BACKENDS = ['reference:fp32', 'reference:fp64', 'webgpu', 'webgpu:f16', 'webgpu:sgmat', 'webgpu:padded', 'webgpu:materialized', 'gpujs', 'gpujs:webgpu', 'gpujs:webasm', 'gpujs:cpu'] as const;
export type ModelBackend = (typeof MODEL_BACKENDS)[number];

export interface StageSpec {
  stage: 'model' | 'kernels' | 'max_batch';
  /** model stage: which backend */
  backend?: ModelBackend;
  /** model stage: the run's random checkpoint, saved once as an HF folder; loading it is part of load_s, as for the peers */
  checkpointDir?: string;
  config: string;
  workloads: Workload[];
  runs: number;
  warmup: number;
  seed: number;
  /** max_batch: the memory the plan must fit, and the largest buffer a binding may hold, in bytes */
  memoryLimit?: number;
  bindingLimit?: number;
  /** max_batch: run the batch found once on the device, timing it and measuring its real peak */
  verify?: boolean;
  /** only these row names (a re-measure); all when absent */
  only?: string[];
  /** test hook for the regression gate: row name -> factor; the timed work is repeated that many times */
  slowdown?: Record<string, number>;
  common: Partial<ResultRow>;
}

/** A row, a progress message, or a note for the report (something that did not run, and why). */
export type Emit = (event: { row?: ResultRow; progress?: string; note?: string }) => void;

export async function runStage(spec: StageSpec, emit: Emit): Promise<void> {
  const config = presetConfig(spec.config);
  if (spec.stage === 'model') {
    if (spec.backend!.startsWith('reference')) return referenceStage(spec, config, emit);
    return spec.backend!.startsWith('gpujs') ? gpujsStage(spec, config, emit) : webgpuStage(spec, config, emit);
  }
  if (spec.stage === 'kernels') return kernelStage(spec, config, emit);
  return maxBatchStage(spec, config, emit);
}

const wanted = (spec: StageSpec, name: string) => !spec.only || spec.only.includes(name);
const repeat = (spec: StageSpec, name: string) => Math.max(1, Math.round(spec.slowdown?.[name] ?? 1));
const tokensOf = (lengths: readonly number[]) => lengths.reduce((a, b) => a + b, 0);

/** The run's checkpoint read from its folder, as a user's model would be. */
function readCheckpoint(spec: StageSpec, precision: Precision): Checkpoint {
  if (!spec.checkpointDir) throw new Error(`the ${spec.backend} model stage needs checkpointDir`);
  return loadCheckpoint(spec.checkpointDir, precision);
}

async function referenceStage(spec: StageSpec, config: ModernBertConfig, emit: Emit): Promise<void> {
  const dtype = spec.backend!.split(':')[1];
  const precision = precisionByName(dtype);
  let model!: ReturnType<typeof createModel>;
  const loadS = await seconds(() => (model = createModel(readCheckpoint(spec, precision), precision)));
  for (const workload of spec.workloads.filter((w) => wanted(spec, w.name))) {
    emit({ progress: workload.name });
    const sequences = randomSequences(workload.lengths, config.vocabSize, spec.seed);
    const n = repeat(spec, workload.name);
    const t = await time(workload.name, () => {
      for (let i = 0; i < n; i++) referenceForward(model, sequences, { allowLongSequences: true });
    }, spec);
    const note = `pure TypeScript on the CPU, ${dtype === 'fp32' ? 'every step rounded to fp32 (Math.fround)' : 'double precision (the oracle)'}; peak memory: the process's peak RSS so far`;
    emit({ row: modelRow(spec, workload, 'reference', '', dtype, t, loadS, process.resourceUsage().maxRSS * 1024, note) });
  }
}

// webgpu:sgmat: f16 storage with every GEMM and attention on subgroup matrices (variant "sgmat"; emulated where the device has none).
async function webgpuStage(spec: StageSpec, config: ModernBertConfig, emit: Emit): Promise<void> {
  const suffix = spec.backend!.split(':')[1];
  const sgmat = suffix === 'sgmat';
  const dtype = suffix === 'f16' || sgmat ? 'f16' : 'f32';
  const variant = (suffix === undefined || suffix === 'f16' || sgmat ? 'flash' : suffix) as 'flash' | 'padded' | 'materialized';
  const { sharedDevice, closeSharedDevice } = await import('../optimized/webgpu/device.ts');
  const gpu = await import('../optimized/webgpu/modernbert.ts');
  let ctx!: GpuContext;
  let model!: ReturnType<typeof gpu.createWebGpuModel>;
  const loadS = await seconds(async () => {
    ctx = await sharedDevice();
    model = gpu.createWebGpuModel(ctx, readCheckpoint(spec, fp32), dtype, (await loadTuning(ctx.adapter)).tuning, sgmat ? { gemm: 'sgmat', attention: 'flash_sgmat' } : {});
    await ctx.device.queue.onSubmittedWorkDone(); // the upload done
  });
  try {
    for (const workload of spec.workloads.filter((w) => wanted(spec, w.name))) {
      const limit = bindingLimit(ctx, config, workload.lengths, variant);
      if (limit) {
        emit({ note: `${spec.backend} ${workload.name}: skipped: ${limit}` });
        continue;
      }
      emit({ progress: workload.name });
      const sequences = randomSequences(workload.lengths, config.vocabSize, spec.seed);
      const options = { attention: variant === 'materialized' ? ('materialized' as const) : ('flash' as const), padded: variant === 'padded', allowLongSequences: true };
      const n = repeat(spec, workload.name);
      const t = await time(workload.name, async () => {
        for (let i = 0; i < n; i++) await gpu.forward(model, sequences, options);
      }, spec);
      const host = model.launcher.passStats(); // the last timed pass: a steady one
      const kernels = onMatrices(model)
        ? `f16 storage, ${[model.kernels.gemm === 'sgmat' && 'every GEMM (gemm sgmat)', model.kernels.attention === 'flash_sgmat' && 'attention (flash_sgmat)'].filter(Boolean).join(' and ')} on f16 x f16 -> f32 subgroup matrices${ctx.subgroupMatrix ? '' : `, emulated in plain WGSL (${ctx.subgroupMatrixReason})`}; ${model.tuning ? 'tuned tiles' : 'default tiles'}`
        : `${dtype === 'f16' ? 'f16 storage, f32 arithmetic; ' : ''}${model.tuning ? 'tuned tiles' : 'default tiles'}`;
      const note = `${kernels}; wall clock per forward pass, through the readback of last_hidden_state; ${host.dispatches} dispatches, ${host.encodeMs.toFixed(2)} ms CPU encode per pass${ctx.swiftshader ? '; SwiftShader: a CPU emulation, not a GPU number' : ''}`;
      emit({ row: modelRow(spec, workload, 'webgpu', sgmat ? 'sgmat' : variant, dtype === 'f16' ? 'fp16' : 'fp32', t, loadS, gpu.memoryStats(model).peakBytes, note, { ctx, matrices: onMatrices(model) }) });
    }
  } finally {
    gpu.destroyModel(model);
    await closeSharedDevice();
  }
}

/**
 * The gpu.js model. The backend column is the mode that ran (gpujs:webasm, ...), whatever was asked; a
 * fallback and its reason go in the note. A workload too large for one pass (gpu.js indexes in f32) runs as
 * consecutive sub-batches, said in the note; one whose single sequence is too large is skipped with a note.
 */
async function gpujsStage(spec: StageSpec, config: ModernBertConfig, emit: Emit): Promise<void> {
  const requested = (spec.backend!.split(':')[1] ?? 'auto') as 'auto' | 'webgpu' | 'webasm' | 'cpu';
  const gpujs = await import('../optimized/gpujs/modernbert.ts');
  const { closeGpuJsDevice } = await import('../optimized/gpujs/mode.ts');
  let model!: Awaited<ReturnType<typeof gpujs.createGpuJsModel>>;
  const loadS = await seconds(async () => (model = await gpujs.createGpuJsModel(readCheckpoint(spec, fp32), requested)));
  try {
    for (const workload of spec.workloads.filter((w) => wanted(spec, w.name))) {
      let groups: number[][];
      try {
        groups = gpujs.subBatches(config, workload.lengths);
      } catch (e) {
        emit({ note: `${spec.backend} ${workload.name}: skipped: ${(e as Error).message}` });
        continue;
      }
      emit({ progress: workload.name });
      const sequences = randomSequences(workload.lengths, config.vocabSize, spec.seed);
      let next = 0;
      const batches = groups.map((g) => sequences.slice(next, (next += g.length)));
      const n = repeat(spec, workload.name);
      const t = await time(workload.name, async () => {
        for (let i = 0; i < n; i++) for (const batch of batches) await gpujs.forward(model, batch, { allowLongSequences: true });
      }, spec);
      const note = [
        `gpu.js ${packageVersion('gpu.js')} kernels, materialized attention; wall clock per forward pass through the readback of last_hidden_state`,
        requested === 'auto' ? `auto selection ran ${model.mode}${model.fallback ? ` (fallback: ${model.fallback})` : ''}` : '',
        batches.length > 1 ? `run as ${batches.length} sub-batches (gpu.js indexes in f32: every tensor below 2^24 values)` : '',
        model.mode === 'webgpu' ? 'device memory not measured (gpu.js does not report it)' : 'peak memory: the process peak RSS so far',
      ].filter(Boolean).join('; ');
      const peak = model.mode === 'webgpu' ? null : process.resourceUsage().maxRSS * 1024;
      emit({ row: { ...modelRow(spec, workload, `gpujs:${model.mode}`, requested === 'auto' ? 'auto' : '', 'fp32', t, loadS, peak, note), versions: `gpu.js ${packageVersion('gpu.js')}` } });
    }
  } finally {
    await gpujs.destroyModel(model);
    await closeGpuJsDevice();
  }
}

/** Why a materialized score buffer cannot be bound on this device, or null. */
function bindingLimit(ctx: GpuContext, config: ModernBertConfig, lengths: readonly number[], variant: string): string | null {
  if (variant !== 'materialized') return null;
  const scores = config.numAttentionHeads * tokensOf(lengths) * Math.max(...lengths) * 4;
  const max = ctx.device.limits.maxStorageBufferBindingSize;
  return scores > max ? `the score matrix needs ${scores} bytes, over this device's maxStorageBufferBindingSize ${max}` : null;
}

/** Whether a model's GEMMs or attention run on subgroup matrices (forced, or its default with f16 where the adapter has them). */
function onMatrices(model: { kernels: KernelChoice }): boolean {
  return model.kernels.gemm === 'sgmat' || model.kernels.attention === 'flash_sgmat';
}

function modelRow(spec: StageSpec, workload: Workload, backend: string, variant: string, dtype: string, t: Timing, loadS: number, peakBytes: number | null, note: string, webgpu?: { ctx: GpuContext; matrices: boolean }): ResultRow {
  const ctx = webgpu?.ctx;
  const tokens = tokensOf(workload.lengths);
  return resultRow({
    ...spec.common,
    kind: 'model',
    name: workload.name,
    backend,
    variant,
    config: spec.config,
    dtype,
    sequences: workload.lengths.length,
    tokens,
    runs: t.runs,
    median_s: t.medianS,
    min_s: t.minS,
    max_s: t.maxS,
    tokens_per_s: tokens / t.medianS,
    peak_bytes: peakBytes,
    adapter: ctx ? adapterName(ctx) : (spec.common.adapter ?? null),
    versions: ctx ? `webgpu ${packageVersion('webgpu')}` : `tinybench ${packageVersion('tinybench')}`,
    note,
    load_s: loadS,
    first_s: t.firstS,
    features: ctx ? featuresText(ctx, webgpu.matrices && ctx.subgroupMatrix ? SUBGROUP_MATRIX_FEATURES : []) : null,
  });
}

/**
 * Each WebGPU kernel at the model's shapes for the first workload's tokens: the GEMMs of a layer (v4, the
 * default; v3, v2, its baseline v1, naive, split-K), attention on global and local layers (flash and materialized), LayerNorm. Each case gets its own
 * pool, so its peak bytes are its own buffers. A timed run encodes `reps` dispatches and waits for the
 * queue; the row reports one dispatch.
 */
async function kernelStage(spec: StageSpec, config: ModernBertConfig, emit: Emit): Promise<void> {
  const { sharedDevice, closeSharedDevice } = await import('../optimized/webgpu/device.ts');
  const { BufferPool } = await import('../optimized/webgpu/memory.ts');
  const { Launcher } = await import('../optimized/webgpu/kernels/launch.ts');
  const gemm = await import('../optimized/webgpu/kernels/gemm.ts');
  const attention = await import('../optimized/webgpu/kernels/attention.ts');
  const layernorm = await import('../optimized/webgpu/kernels/layernorm.ts');
  const ctx = await sharedDevice();
  const lengths = spec.workloads[0].lengths;
  const T = tokensOf(lengths);
  const { hiddenSize: C, intermediateSize: I, numAttentionHeads: H, headDim: D } = config;
  const reps = ctx.swiftshader ? 1 : 20;
  const maxSeqlen = Math.max(...lengths);
  const local = slidingWindow(config);

  type Launch = InstanceType<typeof Launcher>;
  interface Built {
    shape: string;
    flops: number;
    bytes: number;
    run: () => void;
    /** the tokens (rows) it runs when not the workload's T: one sequence */
    tokens?: number;
  }
  interface Case {
    name: string;
    variant: string;
    /** 'f16': f16 storage (f32 arithmetic) of what the model stores as f16 */
    dtype?: 'f16';
    build: (l: Launch) => Built;
  }
  const values = (floats: number) => Float32Array.from({ length: floats }, (_, i) => Math.sin(i) * 0.05);
  const filled = (l: Launch, floats: number, label: string, dtype: DType = 'f32') => l.upload(encode(values(floats), dtype), label);
  // f16: as the model runs them: f16 activations and weights in, f16 out except into the f32 residual stream.
  // splitK (v2, v3, v4): the variant's tile for the shape, K split in that many slices (variant "v2/sk2").
  const gemmCase = (name: string, variant: GemmVariant, s: { M: number; N: number; K: number; epilogue: 'none' | 'residual' | 'glu' }, dtype: DType = 'f32', splitK?: number): Case => ({
    name,
    variant: splitK ? `${variant}/sk${splitK}` : variant,
    dtype: dtype === 'f16' ? dtype : undefined,
    build: (l) => {
      const wRows = s.epilogue === 'glu' ? 2 * s.N : s.N;
      const dtypes = { x: dtype, W: dtype, y: s.epilogue === 'residual' ? ('f32' as const) : dtype };
      const shape = { ...s, dtypes };
      const tiled = variant === 'v2' || variant === 'v3' || variant === 'v4' ? { ...gemm.tileFor(l, shape, variant), ...(splitK ? { splitK } : {}) } : undefined;
      // sgmat reads W packed, as the model uploads it for sgmat
      const W = variant === 'sgmat' ? gemm.packWeights(l, values(wRows * s.K), s, 'W') : filled(l, wRows * s.K, 'W', dtype);
      const args = { x: filled(l, s.M * s.K, 'x', dtype), W, bias: null, residual: s.epilogue === 'residual' ? filled(l, s.M * s.N, 'residual') : null, y: l.pool.storage(s.M * s.N * 4, 'y'), ...shape, variant, tile: tiled };
      const tile = tiled ? ` tile ${gemm.tileName(tiled)}` : variant === 'sgmat' ? ` ${gemm.tileName(gemm.defaultSgmatTile(l, shape))}` : '';
      return { shape: `M=${s.M} N=${s.N} K=${s.K} ${s.epilogue}${tile}`, flops: gemm.flops(shape), bytes: gemm.bytes(shape), run: () => gemm.run(l, args), tokens: s.M === T ? undefined : s.M };
    },
  });
  const attentionCase = (name: string, variant: 'flash_v2' | 'flash_sgmat' | 'flash_v1' | 'materialized', window: [number, number], dtype: DType = 'f32'): Case => ({
    name,
    variant,
    dtype: dtype === 'f16' ? dtype : undefined,
    build: (l) => {
      const shape = { lengths, H, D, window, dtype };
      const cuSeqlens = l.upload(Uint32Array.from(pack(lengths.map((n) => new Array(n).fill(0))).cuSeqlens), 'cuSeqlens');
      const args = { qkv: filled(l, T * 3 * C, 'qkv', dtype), cuSeqlens, out: l.pool.storage(T * C * 4, 'context'), maxSeqlen, ...shape, variant };
      return { shape: `T=${T} maxSeqlen=${maxSeqlen} H=${H} D=${D} window=[${window}]`, flops: attention.flops(shape), bytes: attention.bytes(shape), run: () => attention.run(l, args) };
    },
  });
  const materializedFits = H * T * maxSeqlen * 4 <= ctx.device.limits.maxStorageBufferBindingSize;
  if (!materializedFits) emit({ note: `kernels: materialized attention skipped: its ${H * T * maxSeqlen * 4}-byte score matrix exceeds maxStorageBufferBindingSize` });
  // The subgroup-matrix GEMM (tensor cores) where the device has it, on f16 storage (its tile: the default for the shape).
  const f16Gemms = ctx.subgroupMatrix ? (['sgmat', 'v4', 'v3', 'v2'] as const) : (['v4', 'v3', 'v2'] as const);
  if (!ctx.subgroupMatrix) emit({ note: `kernels: no sgmat or flash_sgmat rows: ${ctx.subgroupMatrixReason}` });
  const cases: Case[] = [
    ...(['v4', 'v3', 'v2', 'v1', 'naive'] as const).map((v) => gemmCase('gemm.wqkv', v, { M: T, N: 3 * C, K: C, epilogue: 'none' })),
    ...f16Gemms.map((v) => gemmCase('gemm.wqkv', v, { M: T, N: 3 * C, K: C, epilogue: 'none' }, 'f16')),
    ...(['v4', 'v3', 'v2', 'v1'] as const).map((v) => gemmCase('gemm.wi_geglu', v, { M: T, N: I, K: C, epilogue: 'glu' })),
    ...f16Gemms.map((v) => gemmCase('gemm.wi_geglu', v, { M: T, N: I, K: C, epilogue: 'glu' }, 'f16')),
    ...(['v4', 'v3', 'v2', 'v1', 'naive'] as const).map((v) => gemmCase('gemm.mlp_wo', v, { M: T, N: C, K: I, epilogue: 'residual' })),
    // Split-K is for grids too small to fill the GPU: one sequence (base, 512 tokens: 24 workgroups of v4's 128 x
    // 64), with v4, v3 and v2 unsplit at the same size as its baselines (the rows above where the workload is one sequence).
    ...(lengths.length > 1 ? (['v4', 'v3', 'v2'] as const).map((v) => gemmCase('gemm.mlp_wo', v, { M: lengths[0], N: C, K: I, epilogue: 'residual' })) : []),
    ...([['v4', 2], ['v4', 4], ['v2', 2], ['v2', 4], ['v3', 2]] as const).map(([v, splitK]) => gemmCase('gemm.mlp_wo', v, { M: lengths[0], N: C, K: I, epilogue: 'residual' }, 'f32', splitK)),
    ...f16Gemms.map((v) => gemmCase('gemm.mlp_wo', v, { M: T, N: C, K: I, epilogue: 'residual' }, 'f16')),
    attentionCase('attention.global', 'flash_v2', [-1, -1]),
    attentionCase('attention.global', 'flash_v2', [-1, -1], 'f16'),
    ...(ctx.subgroupMatrix ? [attentionCase('attention.global', 'flash_sgmat', [-1, -1], 'f16'), attentionCase('attention.local', 'flash_sgmat', [local, local], 'f16')] : []),
    attentionCase('attention.global', 'flash_v1', [-1, -1]),
    attentionCase('attention.local', 'flash_v2', [local, local]),
    attentionCase('attention.local', 'flash_v2', [local, local], 'f16'),
    attentionCase('attention.local', 'flash_v1', [local, local]),
    ...(materializedFits ? [attentionCase('attention.global', 'materialized', [-1, -1]), attentionCase('attention.local', 'materialized', [local, local])] : []),
    {
      name: 'layernorm',
      variant: '',
      build: (l) => {
        const args = { x: filled(l, T * C, 'x'), weight: filled(l, C, 'weight'), bias: null, y: l.pool.storage(T * C * 4, 'y'), rows: T, C, eps: config.normEps };
        return { shape: `rows=${T} C=${C}`, flops: layernorm.flops(args), bytes: layernorm.bytes(args), run: () => layernorm.run(l, args) };
      },
    },
  ];
  try {
    for (const c of cases.filter((k) => wanted(spec, k.name))) {
      emit({ progress: `${c.name} ${c.variant}${c.dtype ? ` ${c.dtype}` : ''}` });
      const l = new Launcher(ctx, new BufferPool(ctx.device));
      try {
        const k = c.build(l);
        const n = repeat(spec, c.name) * reps;
        const t = await time(c.name, async () => {
          for (let i = 0; i < n; i++) k.run();
          await l.finish([]);
        }, spec);
        const per = (seconds: number) => seconds / reps;
        emit({
          row: resultRow({
            ...spec.common,
            kind: 'kernel',
            name: c.name,
            backend: 'webgpu',
            variant: c.variant,
            config: spec.config,
            dtype: c.dtype === 'f16' ? 'fp16' : 'fp32',
            sequences: k.tokens ? 1 : lengths.length,
            tokens: k.tokens ?? T,
            runs: t.runs,
            median_s: per(t.medianS),
            min_s: per(t.minS),
            max_s: per(t.maxS),
            tokens_per_s: (k.tokens ?? T) / per(t.medianS),
            gflop_per_s: k.flops / per(t.medianS) / 1e9,
            gb_per_s: k.bytes / per(t.medianS) / 1e9,
            peak_bytes: l.pool.stats().peakBytes,
            adapter: adapterName(ctx),
            versions: `webgpu ${packageVersion('webgpu')}`,
            features: featuresText(ctx, c.variant.endsWith('sgmat') ? SUBGROUP_MATRIX_FEATURES : []),
            note: `${k.shape}${c.dtype === 'f16' ? (c.variant.endsWith('sgmat') ? '; f16 storage, f16 x f16 -> f32 subgroup matrices' : '; f16 storage, f32 arithmetic') : ''}; dispatches per timed run: ${reps}, wall clock to queue completion${ctx.swiftshader ? '; SwiftShader' : ''}`,
          }),
        });
      } finally {
        l.pool.destroyAll();
      }
    }
  } finally {
    await closeSharedDevice();
  }
}

/**
 * The paper's memory measure: the largest batch of a workload's documents that fits, found by search over the
 * engine's own allocation plan (no kernels run): peak bytes within the memory limit and every buffer within
 * the device's binding limit. The variable workloads take their first B documents.
 */
async function maxBatchStage(spec: StageSpec, config: ModernBertConfig, emit: Emit): Promise<void> {
  const { planMemory } = await import('../optimized/webgpu/modernbert.ts');
  const { closeSharedDevice } = await import('../optimized/webgpu/device.ts');
  const limit = spec.memoryLimit!;
  const bindingLimit = spec.bindingLimit!;
  for (const workload of spec.workloads.filter((w) => wanted(spec, w.name))) {
    const paper = PAPER_WORKLOADS[workload.name];
    // A paper workload's first B documents (a seeded draw's prefix is the same at every B); a LENxCOUNT
    // workload's lengths repeated to B sequences.
    const lengthsOf = (B: number) => (paper ? workloadLengths(paper, B, spec.seed) : Array.from({ length: B }, (_, i) => workload.lengths[i % workload.lengths.length]));
    for (const variant of ['flash', 'padded'] as const) {
      emit({ progress: `${workload.name} ${variant}` });
      const fits = async (B: number) => {
        const plan = await planMemory(config, lengthsOf(B), { padded: variant === 'padded' });
        return plan.peak_bytes <= limit && plan.largest_buffer_bytes <= bindingLimit ? plan : null;
      };
      const best = await largestFitting(fits, paper ? PAPER_DOCUMENTS : MAX_GRID);
      if (!best) {
        emit({ note: `max batch ${workload.name} ${variant}: not even one sequence fits` });
        continue;
      }
      const lengths = lengthsOf(best.batch);
      const planned = `planned: peak within ${formatBytes(limit)}, largest buffer ${formatBytes(best.plan.largest_buffer_bytes)} within the ${formatBytes(bindingLimit)} binding limit${paper && best.batch === PAPER_DOCUMENTS ? "; the search stopped at the workload's 8192 documents" : ''}`;
      const ran = spec.verify ? await runOnce(spec, config, lengths, variant) : null;
      emit({
        row: resultRow({
          ...spec.common,
          ...ran,
          kind: 'max_batch',
          name: workload.name,
          backend: 'webgpu',
          variant,
          config: spec.config,
          dtype: 'fp32',
          sequences: best.batch,
          tokens: tokensOf(lengths),
          versions: `webgpu ${packageVersion('webgpu')}`,
          peak_bytes: ran?.peak_bytes ?? best.plan.peak_bytes,
          note: ran ? `${planned}; then run once on the device (peak measured)` : `${planned}; not run (--max-batch verify runs it)`,
        }),
      });
    }
  }
  await closeSharedDevice();
}

/** One timed forward pass of a batch on the device: the check that the planned batch really runs. */
async function runOnce(spec: StageSpec, config: ModernBertConfig, lengths: number[], variant: 'flash' | 'padded'): Promise<Partial<ResultRow>> {
  const { sharedDevice } = await import('../optimized/webgpu/device.ts');
  const gpu = await import('../optimized/webgpu/modernbert.ts');
  const ctx = await sharedDevice();
  const model = gpu.createWebGpuModel(ctx, randomModel(config, fp32, spec.seed), 'f32', (await loadTuning(ctx.adapter)).tuning);
  try {
    const sequences = randomSequences(lengths, config.vocabSize, spec.seed);
    const t = await time('max batch', () => gpu.forward(model, sequences, { padded: variant === 'padded', allowLongSequences: true }), { runs: 1, warmup: 0 });
    return { runs: 1, median_s: t.medianS, min_s: t.minS, max_s: t.maxS, tokens_per_s: tokensOf(lengths) / t.medianS, peak_bytes: gpu.memoryStats(model).peakBytes, adapter: adapterName(ctx), versions: `webgpu ${packageVersion('webgpu')}` };
  } finally {
    gpu.destroyModel(model);
  }
}
