// `modernbert tune`: times the GEMM tiles and flash-attention tiles on ModernBERT's shapes on this adapter,
// keeps for each shape the fastest candidate whose output matches the default kernel's, and writes the choices
// to the tuning cache (one entry per adapter), which the engine reads when it opens the device.
// Timing: `reps` dispatches per run (enough for about 10 ms of GPU work), wall clock to queue completion, median
// of `runs` runs after warm-up (on SwiftShader the numbers only exercise the machinery: it is a CPU emulation).
// The inputs of a shape are made once and shared by its candidates.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type ModernBertConfig, presetConfig, slidingWindow } from '../reference/config.ts';
import { writeFileAtomic } from '../reference/files.ts';
import type { GpuContext } from '../optimized/webgpu/device.ts';
import * as attention from '../optimized/webgpu/kernels/attention.ts';
import * as gemm from '../optimized/webgpu/kernels/gemm.ts';
import { Launcher } from '../optimized/webgpu/kernels/launch.ts';
import { type DType, bytesOf, decode, encode } from '../optimized/webgpu/kernels/storage.ts';
import { BufferPool } from '../optimized/webgpu/memory.ts';
import { type AttentionChoice, type GemmChoice, type Tuning, adapterKey, dtypesKey } from '../optimized/webgpu/tuning.ts';
import { readTuningCache } from '../optimized/webgpu/tuning-cache.ts';
import { time } from './timing.ts';

export interface TuneOptions {
  configs: string[];
  /** tokens per pass to tune at (one sequence of that length for attention) */
  tokens: number[];
  dtypes: DType[];
  /** 'reduced': the default tile and one alternative per kernel (for tests and quick checks) */
  space: 'full' | 'reduced';
  runs: number;
  warmup: number;
  /** a shape's time box: once its candidates have taken this long (compilation included), the rest are left out */
  shapeSeconds?: number;
  progress?: (message: string) => void;
  /** called with the choices so far after each shape (the CLI writes them to the cache: a run cut short keeps them) */
  checkpoint?: (tuning: Tuning) => Promise<void>;
}

/** One timed candidate. */
export interface TuneRow {
  kernel: 'gemm' | 'attention';
  shape: string;
  /** storage: one dtype for attention, x.W.y for a GEMM */
  dtype: string;
  candidate: string;
  ms: number;
  /** its output matched the default kernel's */
  matches: boolean;
  chosen: boolean;
}

const v3 = (WG_M: number, WG_N: number, TM: 4 | 8, TN: 4 | 8, TK: number): gemm.GemmTile => ({ kernel: 'v3', WG_M, WG_N, TM, TN, TK });
const v4 = (WG_M: number, WG_N: number, TM: 4 | 8, TN: 4 | 8, TK: number): gemm.GemmTile => ({ kernel: 'v4', WG_M, WG_N, TM, TN, TK });
// v4's defaults and their neighbours (TK 32 where a device grants 48 KiB of workgroup memory), v2's tiles that won
// on an H200 (2026-12-04), and v3's over the same range of shapes.
export const GEMM_SPACE: gemm.GemmTile[] = [
  gemm.V4_LARGE_TILE,
  gemm.V4_SMALL_TILE,
  gemm.V4_GLU_SMALL_TILE,
  v4(16, 16, 8, 8, 8),
  v4(16, 16, 8, 4, 32),
  v4(8, 16, 8, 8, 16),
  v4(16, 8, 8, 8, 16),
  gemm.LARGE_TILE,
  { ...gemm.SMALL_TILE, TK: 32 },
  { WG_M: 32, WG_N: 8, TM: 4, TK: 16 },
  { WG_M: 8, WG_N: 32, TM: 8, TK: 16 },
  v3(16, 16, 8, 8, 16),
  v3(16, 16, 8, 4, 16),
  v3(16, 16, 4, 8, 16),
  v3(16, 16, 4, 4, 32),
  v3(8, 16, 8, 8, 16),
  v3(32, 8, 4, 8, 16),
];
export const ATTENTION_SPACE = [32, 64, 128].flatMap((BR) => [16, 32, 64].map((BC) => ({ BR, BC })));

/** The subgroup-matrix shapes of the device (tensor cores) in each workgroup tile, for GEMMs whose x and W are stored in f16. */
function matrixTiles(ctx: GpuContext, shape: GemmCase): gemm.SgmatTile[] {
  if (shape.dtypes.x !== 'f16' || shape.dtypes.W !== 'f16') return [];
  const tiles = [{ BM: 128, BW: 128 }, { BM: 64, BW: 128 }, { BM: 128, BW: 64 }] as const;
  return (ctx.subgroupMatrix?.configs ?? []).flatMap((c) => tiles.map((t) => ({ kernel: 'sgmat' as const, SM: c.M, SN: c.N, SK: c.K, ...t })));
}

/**
 * Split-K where the default tile's grid is too small to fill a big GPU (base's 768-wide GEMMs at 512 tokens: 24
 * workgroups of 128 x 128): the default tile and v4's 64 x 64 in 2 and 4 slices (reduced space: the default in 2).
 */
export function splitKTiles(shape: GemmCase, fallback: gemm.GemmTile, space: TuneOptions['space']): gemm.GemmTile[] {
  if (gemm.fillsGpu(shape, fallback)) return [];
  const tiles = space === 'full' ? [fallback, gemm.V4_GLU_SMALL_TILE] : [fallback];
  const splits = space === 'full' ? [2, 4] : [2];
  return tiles.flatMap((t) => splits.map((splitK) => ({ ...t, splitK })));
}

function fits(t: gemm.AnyGemmTile, shape: GemmCase, limits: { workgroupBytes: number; threads: number }): boolean {
  if (t.kernel === 'sgmat') return gemm.sgmatTileProblem(t, shape.epilogue === 'glu') === null && gemm.sgmatWorkgroupBytes(t, shape.epilogue === 'glu') <= limits.workgroupBytes;
  return gemm.tileProblem(t, shape.epilogue, limits.threads) === null && gemm.workgroupBytes(t, shape.epilogue) <= limits.workgroupBytes;
}

/** Tunes every kernel shape of the configs at the token counts; returns the choices and every timing. */
export async function tune(ctx: GpuContext, o: TuneOptions): Promise<{ tuning: Tuning; rows: TuneRow[] }> {
  const limits = { workgroupBytes: ctx.device.limits.maxComputeWorkgroupStorageSize, threads: ctx.device.limits.maxComputeInvocationsPerWorkgroup };
  const tuning: Tuning = { adapter: adapterKey(ctx.adapter), date: new Date().toISOString(), gemm: [], attention: [] };
  const rows: TuneRow[] = [];
  for (const config of o.configs.map(presetConfig)) {
    for (const T of o.tokens) {
      for (const dtype of o.dtypes) {
        for (const shape of gemmShapes(config, T, dtype)) {
          o.progress?.(`gemm ${describeGemm(shape)} ${dtypesKey(shape.dtypes)}`);
          const fallback = gemm.defaultTile(shape, limits.workgroupBytes);
          // reduced: the default against v2's default for the shape, the engine's previous one
          const space: gemm.AnyGemmTile[] = o.space === 'full' ? GEMM_SPACE : [fallback, gemm.defaultTile(shape, limits.workgroupBytes, 'v2')];
          const candidates = unique([fallback, ...space, ...splitKTiles(shape, fallback, o.space), ...matrixTiles(ctx, shape)].filter((t) => fits(t, shape, limits)), gemm.tileName);
          const inputs = gemmInputs(new Launcher(ctx, new BufferPool(ctx.device)), shape);
          const timed = await timeCandidates(ctx, o, candidates, gemm.tileName, (l, tile) => gemmRunner(l, shape, tile, inputs)).finally(() => inputs.l.pool.destroyAll());
          const best = fastestMatching(timed);
          tuning.gemm.push({ M: shape.M, N: shape.N, K: shape.K, epilogue: shape.epilogue, dtypes: dtypesKey(shape.dtypes), tile: best.candidate, ms: best.ms, defaultMs: timed[0].ms } satisfies GemmChoice);
          rows.push(...timed.map((t) => ({ kernel: 'gemm' as const, shape: describeGemm(shape), dtype: dtypesKey(shape.dtypes), candidate: gemm.tileName(t.candidate), ms: t.ms, matches: t.matches, chosen: t === best })));
          o.progress?.(`  ${summary(timed, best, gemm.tileName)}`);
          await o.checkpoint?.(tuning);
        }
        for (const window of ['global', 'local'] as const) {
          const shape = { lengths: [T], H: config.numAttentionHeads, D: config.headDim, window: window === 'global' ? ([-1, -1] as const) : ([slidingWindow(config), slidingWindow(config)] as const), dtype };
          if (!attention.flashV2Supports(shape.D)) continue;
          o.progress?.(`attention ${window} T=${T} D=${shape.D} ${dtype}`);
          const fallback = attention.flashV2Tiles(shape.D, limits.workgroupBytes);
          const space = o.space === 'full' ? ATTENTION_SPACE : [fallback, { BR: 32, BC: 16 }];
          const name = (t: { BR: number; BC: number }) => `br${t.BR}/bc${t.BC}`;
          const candidates = unique([fallback, ...space].filter((t) => t.BR <= limits.threads && 2 * t.BC * shape.D * 4 <= limits.workgroupBytes), name);
          const timed = await timeCandidates(ctx, o, candidates, name, (l, tiles) => attentionRunner(l, shape, tiles));
          const best = fastestMatching(timed);
          tuning.attention.push({ D: shape.D, dtype, window, maxSeqlen: T, tiles: best.candidate, ms: best.ms, defaultMs: timed[0].ms } satisfies AttentionChoice);
          rows.push(...timed.map((t) => ({ kernel: 'attention' as const, shape: `${window} T=${T} H=${shape.H} D=${shape.D}`, dtype, candidate: name(t.candidate), ms: t.ms, matches: t.matches, chosen: t === best })));
          o.progress?.(`  ${summary(timed, best, name)}`);
          await o.checkpoint?.(tuning);
        }
      }
    }
  }
  return { tuning, rows };
}

type GemmCase = gemm.GemmShape & { dtypes: { x: DType; W: DType; y: DType } };

/** The encoder layer's GEMMs as the model runs them: f16 storage keeps the residual stream (Wo outputs) in f32. */
export function gemmShapes(c: ModernBertConfig, T: number, dtype: DType): GemmCase[] {
  const into = { x: dtype, W: dtype, y: dtype };
  const residual = { x: dtype, W: dtype, y: 'f32' as const };
  return [
    { M: T, N: 3 * c.hiddenSize, K: c.hiddenSize, epilogue: 'none', dtypes: into },
    { M: T, N: c.hiddenSize, K: c.hiddenSize, epilogue: 'residual', dtypes: residual },
    { M: T, N: c.intermediateSize, K: c.hiddenSize, epilogue: 'glu', dtypes: into },
    { M: T, N: c.hiddenSize, K: c.intermediateSize, epilogue: 'residual', dtypes: residual },
  ];
}

function describeGemm(s: GemmCase): string {
  return `M=${s.M} N=${s.N} K=${s.K} ${s.epilogue}`;
}

interface Runner {
  run: () => void;
  /** the output, read back as values */
  read: () => Promise<Float32Array>;
  /** largest difference from the default kernel's output that counts as the same */
  tolerance: (reference: Float32Array) => number;
}

/** A GEMM shape's inputs, in their own launcher's pool (destroyed after its candidates); W also packed for sgmat, once per fragment shape. */
function gemmInputs(l: Launcher, s: GemmCase): { l: Launcher; x: GPUBuffer; W: GPUBuffer; packedW: (m: { SN: number; SK: number }) => gemm.PackedWeights; residual: GPUBuffer | null } {
  const W = values((s.epilogue === 'glu' ? 2 * s.N : s.N) * s.K, 2);
  const packed = new Map<string, gemm.PackedWeights>();
  const packedW = (m: { SN: number; SK: number }) => {
    const key = `${m.SN}x${m.SK}`;
    if (!packed.has(key)) packed.set(key, gemm.packWeights(l, W, s, `tune.W.${key}`, m));
    return packed.get(key)!;
  };
  return { l, x: filled(l, s.M * s.K, s.dtypes.x, 1), W: l.upload(encode(W, s.dtypes.W), 'tune.2'), packedW, residual: s.epilogue === 'residual' ? filled(l, s.M * s.N, 'f32', 3) : null };
}

function gemmRunner(l: Launcher, s: GemmCase, tile: gemm.AnyGemmTile, inputs: ReturnType<typeof gemmInputs>): Runner {
  const args = { ...s, x: inputs.x, W: tile.kernel === 'sgmat' ? inputs.packedW(tile) : inputs.W, bias: null, residual: inputs.residual, y: l.pool.storage(s.M * s.N * bytesOf(s.dtypes.y), 'y'), variant: tile.kernel ?? 'v2', tile };
  return {
    run: () => gemm.run(l, args),
    read: async () => decode((await l.finish([{ buffer: args.y, floats: Math.ceil((s.M * s.N * bytesOf(s.dtypes.y)) / 4) }]))[0], s.dtypes.y, s.M * s.N),
    // Matrix units add in their own order and precision: an f16 ulp, as for an f16 output.
    tolerance: (ref) => sameOutput(ref, tile.kernel === 'sgmat' ? 'f16' : s.dtypes.y),
  };
}

function attentionRunner(l: Launcher, s: attention.AttentionShape & { dtype: DType }, tiles: { BR: number; BC: number }): Runner {
  const T = s.lengths.reduce((a, b) => a + b, 0);
  const cuSeqlens = l.upload(Uint32Array.from([0, ...s.lengths.map((_, i) => s.lengths.slice(0, i + 1).reduce((a, b) => a + b, 0))]), 'cuSeqlens');
  const args = { ...s, qkv: filled(l, T * 3 * s.H * s.D, s.dtype, 4), cuSeqlens, out: l.pool.storage(T * s.H * s.D * bytesOf(s.dtype), 'out'), maxSeqlen: Math.max(...s.lengths), variant: 'flash_v2' as const, tiles };
  return {
    run: () => attention.run(l, args),
    read: async () => decode((await l.finish([{ buffer: args.out, floats: Math.ceil((T * s.H * s.D * bytesOf(s.dtype)) / 4) }]))[0], s.dtype, T * s.H * s.D),
    tolerance: (ref) => sameOutput(ref, s.dtype),
  };
}

/** Same sums in a different grouping: 1e-5 of the largest value in f32; one f16 ulp (2^-10 relative) in f16. */
function sameOutput(reference: Float32Array, dtype: DType): number {
  let max = 0;
  for (const v of reference) max = Math.max(max, Math.abs(v));
  return (dtype === 'f16' ? 2 ** -10 : 1e-5) * Math.max(1, max);
}

function filled(l: Launcher, n: number, dtype: DType, seed: number): GPUBuffer {
  return l.upload(encode(values(n, seed), dtype), `tune.${seed}`);
}

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 0.5);
}

interface Timed<C> {
  candidate: C;
  ms: number;
  matches: boolean;
  /** why the candidate could not run (then ms is Infinity) */
  error?: string;
  /** its first run with the readback and the check against the default: pipeline compilation included */
  firstMs: number;
}

/**
 * Lines for the progress log: the default's time, the chosen candidate's, how many matched, and every
 * candidate's time (a run cut short keeps them in its log; the table is printed only at the end).
 */
function summary<C>(timed: Timed<C>[], best: Timed<C>, name: (c: C) => string): string {
  const all = timed.map((t) => `${name(t.candidate)} ${t.error ? `failed: ${t.error}` : `${t.ms.toFixed(4)}${t.matches ? '' : ' (differs)'}`}`).join(', ');
  const first = timed.reduce((a, b) => (b.firstMs > a.firstMs ? b : a));
  const firstS = timed.reduce((sum, t) => sum + t.firstMs, 0) / 1000;
  return `default ${name(timed[0].candidate)} ${timed[0].ms.toFixed(4)} ms, chosen ${name(best.candidate)} ${best.ms.toFixed(4)} ms (${(timed[0].ms / best.ms).toFixed(2)}x), ${timed.filter((t) => t.matches).length}/${timed.length} matched\n    all (ms): ${all}\n    first runs (compilation, readback, check): ${firstS.toFixed(1)} s, the slowest ${name(first.candidate)} ${first.firstMs.toFixed(0)} ms`;
}

/**
 * Times each candidate (the first is the default, whose output the others must match) in its own pool, with
 * enough dispatches a run for about 10 ms of GPU work (one on SwiftShader).
 */
async function timeCandidates<C>(ctx: GpuContext, o: TuneOptions, candidates: C[], name: (c: C) => string, build: (l: Launcher, c: C) => Runner): Promise<Timed<C>[]> {
  let reference: Float32Array | null = null;
  const out: Timed<C>[] = [];
  const began = performance.now();
  for (const candidate of candidates) {
    if (out.length && o.shapeSeconds !== undefined && performance.now() - began > o.shapeSeconds * 1000) {
      o.progress?.(`  time box of ${o.shapeSeconds} s: ${candidates.length - out.length} of ${candidates.length} candidates left out (${candidates.slice(out.length).map(name).join(', ')})`);
      break;
    }
    const l = new Launcher(ctx, new BufferPool(ctx.device));
    const firstStart = performance.now();
    try {
      const runner = build(l, candidate);
      runner.run();
      const got = await runner.read();
      reference ??= got;
      let diff = 0;
      for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i] - reference[i]));
      const matches = diff <= runner.tolerance(reference); // NaN fails
      const firstMs = performance.now() - firstStart;
      const start = performance.now();
      runner.run();
      await l.finish([]);
      const reps = ctx.swiftshader ? 1 : Math.min(50, Math.max(2, Math.round(10 / (performance.now() - start))));
      const t = await time(name(candidate), async () => {
        for (let i = 0; i < reps; i++) runner.run();
        await l.finish([]);
      }, o);
      out.push({ candidate, ms: (t.medianS * 1000) / reps, matches, firstMs });
    } catch (e) {
      // A candidate the device rejects (a shader its compiler refuses, a limit) is logged and left out; the
      // default is the reference, and its failure is the run's.
      if (!reference) throw e;
      out.push({ candidate, ms: Infinity, matches: false, error: (e as Error).message, firstMs: performance.now() - firstStart });
    } finally {
      l.pool.destroyAll();
    }
  }
  return out;
}

/** The fastest candidate whose output matched the default's (the default itself when none is faster). */
function fastestMatching<C>(timed: Timed<C>[]): Timed<C> {
  return timed.filter((t) => t.matches).reduce((a, b) => (b.ms < a.ms ? b : a), timed[0]);
}

function unique<C>(list: C[], name: (c: C) => string): C[] {
  const seen = new Set<string>();
  return list.filter((c) => !seen.has(name(c)) && seen.add(name(c)));
}

/** Merges the choices into this adapter's entry of the cache file (a shape tuned again is replaced); written whole or not at all. */
export async function writeTuning(file: string, tuning: Tuning): Promise<void> {
  const cache = await readTuningCache(file);
  const old = cache.adapters[tuning.adapter];
  if (old) {
    const gemmKey = (c: GemmChoice) => `${c.M}|${c.N}|${c.K}|${c.epilogue}|${c.dtypes}`;
    const attentionKey = (c: AttentionChoice) => `${c.D}|${c.dtype}|${c.window}|${c.maxSeqlen}`;
    const gemmNew = new Set(tuning.gemm.map(gemmKey));
    const attentionNew = new Set(tuning.attention.map(attentionKey));
    tuning = { ...tuning, gemm: [...old.gemm.filter((c) => !gemmNew.has(gemmKey(c))), ...tuning.gemm], attention: [...old.attention.filter((c) => !attentionNew.has(attentionKey(c))), ...tuning.attention] };
  }
  cache.adapters[tuning.adapter] = tuning;
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, JSON.stringify(cache, null, 2) + '\n');
}
