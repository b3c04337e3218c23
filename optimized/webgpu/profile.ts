// `modernbert profile`: where a forward pass's GPU time goes, kernel by kernel. Runs warm-up passes of a
// random-weight model, then profiled passes (a timestamp pair around each dispatch, or wall time per
// dispatch without timestamp-query), and sums each kernel's calls, time, flops and bytes per pass. Each kernel's
// rate is read against the adapter's published peak (when known) and against its measured roofline (roofline.ts).
import type { ModernBertConfig } from '../../reference/config.ts';
import { fp32 } from '../../reference/ops.ts';
import { randomModel } from '../../reference/modernbert.ts';
import type { GpuContext } from './device.ts';
import type { DType } from './kernels/storage.ts';
import type { KernelChoice } from './kernels/tiles.ts';
import { type DispatchProfile, type ProfileTimer, bestTimer } from './kernels/launch.ts';
import { createWebGpuModel, destroyModel, forward } from './modernbert.ts';
import type { Tuning } from './tuning.ts';
import { type Roofline, adapterName } from './roofline.ts';

/** One kernel (name and override constants) over a pass. Times are the median over the profiled passes. */
export interface ProfileRow {
  kernel: string;
  /** dispatches per pass */
  calls: number;
  total_ms: number;
  /** percent of the pass's summed kernel time */
  share: number;
  /** null where the launcher gave no work estimate */
  gflop_s: number | null;
  gb_s: number | null;
  /** the larger of GFLOP/s and GB/s as a percent of the adapter's peak; null where the peak is not known */
  peak_pct: number | null;
  /** GFLOP/s or GB/s as a percent of the measured roofline rate the kernel is held against (rooflineBound); null without a roofline */
  roofline_pct: number | null;
  /** per pass */
  flops: number | null;
  bytes: number | null;
  timer: ProfileTimer;
}

export interface DevicePeak {
  name: string;
  /** fp32 without tensor cores */
  gflops: number;
  /** DRAM bandwidth */
  gbs: number;
}

export interface ProfileReport {
  config: string;
  /** storage: f32, or f16 storage with f32 arithmetic (f16 products in the GEMMs with gemm sgmat) */
  dtype: DType;
  /** the kernels of every GEMM and attention where the model fixed them (forced, or subgroup matrices with f16 on an adapter that has them) */
  kernels: KernelChoice;
  lengths: number[];
  warmup: number;
  runs: number;
  adapter: string;
  swiftshader: boolean;
  timer: ProfileTimer;
  peak: DevicePeak | null;
  /** this adapter's measured rates (modernbert roofline), or null */
  roofline: Roofline | null;
  dispatches: number;
  /** host encode time of an unprofiled steady pass */
  encodeMs: number;
  rows: ProfileRow[];
}

/** Published peaks, matched against the adapter's vendor, architecture and description (first match wins). */
const KNOWN_PEAKS: (DevicePeak & { match: RegExp })[] = [
  { match: /H200/i, name: 'NVIDIA H200', gflops: 67_000, gbs: 4_800 },
  { match: /H100.*NVL/i, name: 'NVIDIA H100 NVL', gflops: 60_000, gbs: 3_900 },
  { match: /H100.*PCIe/i, name: 'NVIDIA H100 PCIe', gflops: 51_000, gbs: 2_000 },
  { match: /H100/i, name: 'NVIDIA H100 SXM', gflops: 67_000, gbs: 3_350 },
  { match: /A100.*80\s*GB/i, name: 'NVIDIA A100 80GB', gflops: 19_500, gbs: 2_039 },
  { match: /A100/i, name: 'NVIDIA A100 40GB', gflops: 19_500, gbs: 1_555 },
  { match: /RTX 4090/i, name: 'NVIDIA GeForce RTX 4090', gflops: 82_600, gbs: 1_008 },
  { match: /\bL4\b/, name: 'NVIDIA L4', gflops: 30_300, gbs: 300 },
];

export function knownPeak(adapter: GpuContext['adapter']): DevicePeak | null {
  const text = `${adapter.vendor} ${adapter.architecture} ${adapter.description}`;
  const hit = KNOWN_PEAKS.find((p) => p.match.test(text));
  return hit ? { name: hit.name, gflops: hit.gflops, gbs: hit.gbs } : null;
}

/** A kernel's row name: its name, and its override constants when it has any (they select the variant). */
export function kernelLabel(d: Pick<DispatchProfile, 'kernel' | 'constants'>): string {
  const constants = Object.entries(d.constants);
  return constants.length ? `${d.kernel}(${constants.map(([k, v]) => `${k}=${v}`).join(',')})` : d.kernel;
}

/**
 * The measured rate a kernel is held against: the FMA rate of the arithmetic it does for the GEMMs and attention
 * (f32 for all of them, f16 storage included; the subgroup-matrix GEMM runs f16 x f16 -> f32 matrices), global
 * bandwidth for the others, which move far more bytes than they compute (LayerNorm, RoPE, embedding, pooling,
 * the split-K reduction).
 */
export function rooflineBound(kernel: string): 'fma_f32_gflops' | 'sgmat_gflops' | 'global_gbps' {
  if (/^(gemm|flash_attention)_sgmat_(?!emulated)/.test(kernel)) return 'sgmat_gflops';
  if (/^gemm_(?!reduce)|attention/.test(kernel)) return 'fma_f32_gflops';
  return 'global_gbps';
}

function rooflinePct(kernel: string, gflop_s: number | null, gb_s: number | null, roofline: Roofline | null): number | null {
  if (!roofline) return null;
  const bound = rooflineBound(kernel);
  const rate = bound === 'global_gbps' ? gb_s : gflop_s;
  const ceiling = roofline[bound];
  return rate === null || ceiling === null ? null : (100 * rate) / ceiling;
}

/** Rows from the profiled passes (each a list of timed dispatches), the most expensive first. */
export function summarizeProfile(passes: DispatchProfile[][], peak: DevicePeak | null, roofline: Roofline | null = null): ProfileRow[] {
  if (!passes.length || !passes[0].length) throw new Error('profile: no timed dispatches (was profiling on?)');
  interface Sum {
    calls: number;
    ms: number[];
    flops: number | null;
    bytes: number | null;
    timer: ProfileTimer;
  }
  const sums = new Map<string, Sum>();
  passes.forEach((dispatches, pass) => {
    for (const d of dispatches) {
      const label = kernelLabel(d);
      let s = sums.get(label);
      if (!s) sums.set(label, (s = { calls: 0, ms: passes.map(() => 0), flops: 0, bytes: 0, timer: d.timer }));
      s.ms[pass] += d.ns / 1e6;
      if (pass > 0) continue; // every pass makes the same dispatches: count calls and work once
      s.calls++;
      s.flops = d.work && s.flops !== null ? s.flops + d.work.flops : null;
      s.bytes = d.work && s.bytes !== null ? s.bytes + d.work.bytes : null;
    }
  });
  const rows = [...sums].map(([kernel, s]) => {
    const total_ms = median(s.ms);
    const rate = (amount: number | null) => (amount === null || total_ms <= 0 ? null : amount / total_ms / 1e6); // per ms -> G per s
    const gflop_s = rate(s.flops);
    const gb_s = rate(s.bytes);
    const fractions = peak ? [gflop_s === null ? null : gflop_s / peak.gflops, gb_s === null ? null : gb_s / peak.gbs].filter((f): f is number => f !== null) : [];
    const peak_pct = fractions.length ? 100 * Math.max(...fractions) : null;
    return { kernel, calls: s.calls, total_ms, share: 0, gflop_s, gb_s, peak_pct, roofline_pct: rooflinePct(kernel, gflop_s, gb_s, roofline), flops: s.flops, bytes: s.bytes, timer: s.timer };
  });
  const total = rows.reduce((a, r) => a + r.total_ms, 0);
  for (const r of rows) r.share = total > 0 ? (100 * r.total_ms) / total : 0;
  return rows.sort((a, b) => b.total_ms - a.total_ms);
}

/**
 * Forward passes of `sequences` through a model of `config` with seeded random weights (last hidden state
 * only): `warmup` passes (at least 2: the first compiles and allocates; the last, a steady one, gives the
 * host encode time), then `runs` profiled passes. With `roofline` (measureRoofline's on this adapter), each row
 * also gets its percent of the measured rate.
 */
export async function profileModel(ctx: GpuContext, configName: string, config: ModernBertConfig, sequences: Int32Array[], options: { runs?: number; warmup?: number; seed?: number; timer?: ProfileTimer; dtype?: DType; roofline?: Roofline | null; tuning?: Tuning | null; kernels?: KernelChoice } = {}): Promise<ProfileReport> {
  const { runs = 3, warmup = 2, seed = 42, timer = bestTimer(ctx), dtype = 'f32', roofline = null, tuning = null, kernels = {} } = options;
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`profile: runs must be a positive integer, got ${runs}`);
  if (!(Number.isInteger(warmup) && warmup >= 2)) throw new Error(`profile: warmup must be an integer >= 2, got ${warmup}`);
  const model = createWebGpuModel(ctx, randomModel(config, fp32, seed), dtype, tuning, kernels);
  try {
    const pass = () => forward(model, sequences, { allowLongSequences: true });
    for (let i = 0; i < warmup; i++) await pass();
    const steady = model.launcher.passStats();
    model.launcher.setProfiling(timer);
    const passes: DispatchProfile[][] = [];
    for (let i = 0; i < runs; i++) {
      await pass();
      passes.push(model.launcher.profile());
    }
    model.launcher.setProfiling(null);
    const peak = knownPeak(ctx.adapter);
    return {
      config: configName,
      dtype,
      kernels: model.kernels,
      lengths: sequences.map((s) => s.length),
      warmup,
      runs,
      adapter: adapterName(ctx.adapter),
      swiftshader: ctx.swiftshader,
      timer,
      peak,
      roofline,
      dispatches: steady.dispatches,
      encodeMs: steady.encodeMs,
      rows: summarizeProfile(passes, peak, roofline),
    };
  } finally {
    destroyModel(model);
  }
}

export const PROFILE_COLUMNS = ['kernel', 'calls', 'total_ms', 'share', 'gflop_s', 'gb_s', 'peak_pct', 'roofline_pct'] as const;

/** The human report: a few header lines, then the table (columns separated by " | "), then the totals. */
export function formatProfile(r: ProfileReport): string {
  const tokens = r.lengths.reduce((a, b) => a + b, 0);
  const fixed = (v: number | null, digits: number) => (v === null ? '' : v.toFixed(digits));
  const cells = r.rows.map((row) => [row.kernel, String(row.calls), fixed(row.total_ms, 3), fixed(row.share, 1), fixed(row.gflop_s, 2), fixed(row.gb_s, 2), fixed(row.peak_pct, 1), fixed(row.roofline_pct, 1)]);
  const widths = PROFILE_COLUMNS.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (row: readonly string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ').trimEnd();
  const gpuMs = r.rows.reduce((a, row) => a + row.total_ms, 0);
  return [
    `modernbert profile: config ${r.config}${r.dtype === 'f16' ? ` (f16 storage, ${r.kernels.gemm === 'sgmat' || r.kernels.attention === 'flash_sgmat' ? 'f16 x f16 -> f32 products on subgroup matrices' : 'f32 arithmetic'})` : ''}${r.kernels.gemm ? `, every GEMM on ${r.kernels.gemm}` : ''}${r.kernels.attention ? `, every attention on ${r.kernels.attention}` : ''}, ${r.lengths.length} sequences, ${tokens} tokens; ${r.warmup} warm-up passes, then the median of ${r.runs} profiled pass${r.runs === 1 ? '' : 'es'}`,
    `adapter: ${r.adapter}${r.swiftshader ? ' (SwiftShader, a CPU implementation: timings are correctness-only, not GPU performance)' : ''}`,
    `timer: ${r.timer === 'timestamp' ? 'timestamp-query, GPU time of each dispatch in its own compute pass' : 'wall time per dispatch, each submitted alone and awaited (no timestamp-query; includes submit overhead)'}`,
    `peak: ${r.peak ? `${r.peak.name}, ${r.peak.gflops / 1000} TFLOP/s fp32, ${r.peak.gbs / 1000} TB/s; peak_pct is the larger of the two fractions` : 'not known for this adapter (peak_pct blank)'}`,
    `roofline: ${r.roofline ? `measured on this adapter: ${rate(r.roofline.fma_f32_gflops, 'GFLOP/s')} f32 FMA, ${r.roofline.sgmat_gflops === null ? 'no subgroup matrices' : `${rate(r.roofline.sgmat_gflops, 'GFLOP/s')} subgroup-matrix`}, ${rate(r.roofline.global_gbps, 'GB/s')} global; roofline_pct holds GEMM and attention against the FMA rate of their arithmetic, the others against global bandwidth` : 'none (roofline_pct blank)'}`,
    '',
    line(PROFILE_COLUMNS),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...cells.map(line),
    '',
    `per pass: ${r.dispatches} dispatches, ${gpuMs.toFixed(3)} ms in kernels, ${r.encodeMs.toFixed(2)} ms CPU encode (an unprofiled steady pass)`,
  ].join('\n') + '\n';
}

function rate(v: number, unit: string): string {
  return `${v >= 100 ? v.toFixed(0) : v.toPrecision(3)} ${unit}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
