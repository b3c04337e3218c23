// `modernbert roofline`: what this adapter and this Dawn can actually do, measured on the device, so that a
// kernel's share is read against reachable rates and not only against a datasheet (DESIGN §5): the FMA rate
// of f32 and f16 arithmetic, workgroup-memory and global-memory bandwidth, the subgroup-matrix (tensor-core)
// rate, and the cost of one dispatch. Each figure comes from one kernel (kernels/roofline_*.wgsl, whose headers
// give the FLOPs and bytes per thread), timed as DESIGN §5 says: warm-up runs, then the median of timed runs,
// each a compute pass between two timestamp-query timestamps, or the wall time from submit to
// onSubmittedWorkDone() where the device has no timestamp-query.
import type { GpuContext } from './device.ts';
import { type ProfileTimer, type RooflinePlan, bestTimer } from './kernels/launch.ts';
import * as copy from './kernels/roofline_copy.ts';
import * as dispatch from './kernels/roofline_dispatch.ts';
import * as fma from './kernels/roofline_fma.ts';
import * as sgmat from './kernels/roofline_sgmat.ts';
import * as shared from './kernels/roofline_shared.ts';

/** `modernbert roofline --json`: exactly these keys; null where the device lacks the feature. */
export interface Roofline {
  adapter: string;
  fma_f32_gflops: number;
  fma_f16_gflops: number | null;
  workgroup_gbps: number;
  global_gbps: number;
  sgmat_gflops: number | null;
  dispatch_us: number;
}

export const ROOFLINE_KEYS = ['adapter', 'fma_f32_gflops', 'fma_f16_gflops', 'workgroup_gbps', 'global_gbps', 'sgmat_gflops', 'dispatch_us'] as const;
const NULLABLE = new Set<string>(['fma_f16_gflops', 'sgmat_gflops']);

export interface RooflineSizes {
  fma: { workgroups: number; iterations: number };
  shared: { workgroups: number; iterations: number };
  copy: { bytes: number; repeats: number };
  /** iterations for a 16x16x16 shape; other shapes run as many FLOPs */
  sgmat: { workgroups: number; iterations: number };
  dispatches: number;
  runs: number;
  warmup: number;
}

/**
 * A real GPU: enough workgroups to fill a big one (an H100: 132 SMs x 2048 threads) several times over, and
 * milliseconds per timed run, far above the timer's resolution and a launch's cost.
 */
export const GPU_SIZES: RooflineSizes = {
  // 8192 x 256 threads = 2M: 7.8 waves of an H100, so the last, partial wave costs little. 1024 iterations x
  // 256 FLOPs per thread = 0.55 TFLOP: 8 ms at an H100's 67 TFLOP/s fp32.
  fma: { workgroups: 8192, iterations: 1024 },
  // 8 of these workgroups fit an SM (2048 threads, 128 KiB of workgroup memory), so again 7.8 waves. 512
  // iterations x 128 bytes per thread = 137 GB read: about 4 ms at an H100's ~33 TB/s (132 SMs x 128 B/clock).
  shared: { workgroups: 8192, iterations: 512 },
  // 256 MiB each way, 5x an H100's or H200's 50 MiB L2, so the copy streams through DRAM; 8 copies per timed
  // run move 4 GiB: 1.3 ms at 3.35 TB/s.
  copy: { bytes: 256 << 20, repeats: 8 },
  // 4096 workgroups x 4 subgroups x 2048 iterations x 8 multiply-accumulates of 16x16x16 (8192 FLOPs) = 2.2e12
  // FLOPs: 2.2 ms at an H100's 989 TFLOP/s dense f16, longer at what Vulkan's cooperative matrices reach. 4096
  // workgroups of 4 warps are 16K warps, 31 per SM of an H100: several waves.
  sgmat: { workgroups: 4096, iterations: 2048 },
  // a few microseconds each: 2000 make milliseconds
  dispatches: 2000,
  runs: 5,
  warmup: 2,
};

/** SwiftShader (a CPU, well under 1 GFLOP/s): tiny sizes that only show the kernels run and give positive figures. */
export const SWIFTSHADER_SIZES: RooflineSizes = {
  fma: { workgroups: 8, iterations: 8 },
  shared: { workgroups: 8, iterations: 8 },
  copy: { bytes: 1 << 20, repeats: 2 },
  sgmat: { workgroups: 4, iterations: 4 },
  dispatches: 16,
  runs: 3,
  warmup: 1,
};

/** One figure of the report: the median over the timed runs, and their spread. */
export interface RooflineMeasure {
  key: Exclude<(typeof ROOFLINE_KEYS)[number], 'adapter'>;
  label: string;
  unit: 'GFLOP/s' | 'GB/s' | 'us';
  /** null where the device lacks the feature (`absent` says why) */
  median: number | null;
  min: number | null;
  max: number | null;
  timer: ProfileTimer | null;
  /** what ran, in words */
  size: string;
  absent?: string;
}

export interface RooflineReport {
  roofline: Roofline;
  swiftshader: boolean;
  runs: number;
  warmup: number;
  measures: RooflineMeasure[];
}

/** The adapter as the profile and the roofline name it. */
export function adapterName(adapter: GpuContext['adapter']): string {
  return [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ') || 'unnamed adapter';
}

/** Measures every figure on `ctx`'s device (sizes: by default the GPU's, or SwiftShader's on SwiftShader). */
export async function measureRoofline(ctx: GpuContext, options: { sizes?: RooflineSizes; runs?: number; timer?: ProfileTimer } = {}): Promise<RooflineReport> {
  const base = options.sizes ?? (ctx.swiftshader ? SWIFTSHADER_SIZES : GPU_SIZES);
  const sizes = { ...base, runs: options.runs ?? base.runs };
  if (!(Number.isInteger(sizes.runs) && sizes.runs >= 1)) throw new Error(`roofline: runs must be a positive integer, got ${sizes.runs}`);
  const timing = { runs: sizes.runs, warmup: sizes.warmup, timer: options.timer ?? bestTimer(ctx) };
  const rate = (key: RooflineMeasure['key'], label: string, unit: 'GFLOP/s' | 'GB/s', plan: RooflinePlan, size: string) => measureRate(ctx, timing, { key, label, unit, size }, plan);
  const measures: RooflineMeasure[] = [];

  const f32 = { ...sizes.fma, dtype: 'f32' as const };
  measures.push(await rate('fma_f32_gflops', 'f32 FMA', 'GFLOP/s', fma.plan(f32), `${f32.workgroups} workgroups x ${fma.THREADS} threads x ${f32.iterations} iterations x 128 FMAs`));
  if (ctx.features.shaderF16) {
    const f16 = { ...sizes.fma, dtype: 'f16' as const };
    measures.push(await rate('fma_f16_gflops', 'f16 FMA', 'GFLOP/s', fma.plan(f16), `${f16.workgroups} workgroups x ${fma.THREADS} threads x ${f16.iterations} iterations x 128 FMAs`));
  } else measures.push(absentMeasure('fma_f16_gflops', 'f16 FMA', 'GFLOP/s', 'the device has no shader-f16'));

  measures.push(await rate('workgroup_gbps', 'workgroup memory (read)', 'GB/s', shared.plan(sizes.shared), `${sizes.shared.workgroups} workgroups x ${shared.THREADS} threads x ${sizes.shared.iterations} iterations x 8 vec4 reads`));

  const limits = ctx.device.limits;
  const copyBytes = Math.floor(Math.min(sizes.copy.bytes, limits.maxStorageBufferBindingSize, limits.maxBufferSize) / copy.BLOCK_BYTES) * copy.BLOCK_BYTES;
  const copyShape = { bytes: copyBytes, repeats: sizes.copy.repeats };
  measures.push(await rate('global_gbps', 'global memory (copy: read + write)', 'GB/s', copy.plan(copyShape), `${mib(copyBytes)} MiB copied ${copyShape.repeats} times per run`));

  measures.push(await measureSgmat(ctx, sizes.sgmat, timing));

  const chain = dispatch.plan({ dispatches: sizes.dispatches });
  const t = await timePlan(ctx, chain, timing);
  const us = (ns: number) => ns / chain.repeats / 1000;
  measures.push({ key: 'dispatch_us', label: 'empty dispatch', unit: 'us', median: us(t.medianNs), min: us(t.minNs), max: us(t.maxNs), timer: t.timer, size: `${chain.repeats} dependent dispatches per run` });

  const value = (key: RooflineMeasure['key']) => round(measures.find((m) => m.key === key)!.median);
  const roofline: Roofline = {
    adapter: adapterName(ctx.adapter),
    fma_f32_gflops: value('fma_f32_gflops')!,
    fma_f16_gflops: value('fma_f16_gflops'),
    workgroup_gbps: value('workgroup_gbps')!,
    global_gbps: value('global_gbps')!,
    sgmat_gflops: value('sgmat_gflops'),
    dispatch_us: value('dispatch_us')!,
  };
  return { roofline, swiftshader: ctx.swiftshader, runs: sizes.runs, warmup: sizes.warmup, measures };
}

/** A rate: the plan's work per dispatch times its repeats, over each timed run. */
async function measureRate(ctx: GpuContext, timing: TimingOptions, what: Pick<RooflineMeasure, 'key' | 'label' | 'size'> & { unit: 'GFLOP/s' | 'GB/s' }, plan: RooflinePlan): Promise<RooflineMeasure> {
  const t = await timePlan(ctx, plan, timing);
  const amount = (what.unit === 'GB/s' ? plan.work.bytes : plan.work.flops) * plan.repeats;
  const perNs = (ns: number) => amount / ns; // per ns = G per s
  return { ...what, median: perNs(t.medianNs), min: perNs(t.maxNs), max: perNs(t.minNs), timer: t.timer };
}

function absentMeasure(key: RooflineMeasure['key'], label: string, unit: RooflineMeasure['unit'], why: string): RooflineMeasure {
  return { key, label, unit, median: null, min: null, max: null, timer: null, size: '', absent: why };
}

/** Every f16 x f16 -> f32 shape the device offers, timed; the fastest is the figure. A shape the driver rejects is left out. */
async function measureSgmat(ctx: GpuContext, size: RooflineSizes['sgmat'], timing: TimingOptions): Promise<RooflineMeasure> {
  const [key, label, unit] = ['sgmat_gflops', 'subgroup matrix f16 x f16 -> f32', 'GFLOP/s'] as const;
  if (!ctx.subgroupMatrix) return absentMeasure(key, label, unit, ctx.subgroupMatrixReason ?? 'the device has no subgroup matrices');
  let best: RooflineMeasure | null = null;
  const failures: string[] = [];
  for (const config of ctx.subgroupMatrix.configs) {
    const { M, N, K } = config;
    // as many FLOPs for every shape as 16x16x16 runs
    const shape = { workgroups: size.workgroups, iterations: Math.max(1, Math.round((size.iterations * 4096) / (M * N * K))), config, subgroupSize: ctx.subgroupMatrix.subgroupMaxSize };
    try {
      const ran = `${M}x${N}x${K}: ${shape.workgroups} workgroups x 4 subgroups x ${shape.iterations} iterations x 8 multiply-accumulates`;
      const m = await measureRate(ctx, timing, { key, label, unit, size: ran }, sgmat.plan(shape));
      if (!best || m.median! > best.median!) best = m;
    } catch (e) {
      failures.push(`${M}x${N}x${K}: ${(e as Error).message}`);
    }
  }
  return best ?? absentMeasure(key, label, unit, `every shape failed (${failures.join('; ')})`);
}

interface TimingOptions {
  runs: number;
  warmup: number;
  timer: ProfileTimer;
}

export interface PlanTiming {
  medianNs: number;
  minNs: number;
  maxNs: number;
  /** wall where timestamps were asked for but read zero (a driver that does not write them) */
  timer: ProfileTimer;
}

/** A plan's pipeline, buffers and bind group on the device (the buffers are exposed for tests to fill and read). */
export interface PreparedPlan {
  plan: RooflinePlan;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  buffers: GPUBuffer[];
  destroy(): void;
}

// GPUBufferUsage bits, as launch.ts and memory.ts write them
const STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
const UNIFORM = 0x40 | 0x8; // UNIFORM | COPY_DST
const QUERY_RESOLVE = 0x200 | 0x4; // QUERY_RESOLVE | COPY_SRC
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST

/** Compiles the plan's kernel and makes its buffers; a shader or pipeline the device rejects is an error naming the kernel. */
export async function preparePlan(ctx: GpuContext, plan: RooflinePlan): Promise<PreparedPlan> {
  const { device } = ctx;
  const made: GPUBuffer[] = [];
  const destroy = () => made.forEach((b) => b.destroy());
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  const module = device.createShaderModule({ code: plan.kernel.source, label: plan.kernel.name });
  const pipeline = device.createComputePipeline({ layout: 'auto', label: plan.kernel.name, compute: { module, entryPoint: 'main' } });
  const buffers = plan.buffers.map((bytes, i) => {
    const b = device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: STORAGE, label: `${plan.kernel.name}.${i}` });
    made.push(b);
    return b;
  });
  const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
  if (plan.params.length) {
    const data = new DataView(new ArrayBuffer(Math.max(16, Math.ceil((plan.params.length * 4) / 16) * 16)));
    plan.params.forEach(([type, v], i) => (type === 'f32' ? data.setFloat32(i * 4, v, true) : type === 'i32' ? data.setInt32(i * 4, v, true) : data.setUint32(i * 4, v, true)));
    const uniform = device.createBuffer({ size: data.byteLength, usage: UNIFORM, label: `${plan.kernel.name}.params` });
    made.push(uniform);
    device.queue.writeBuffer(uniform, 0, data.buffer);
    entries.push({ binding: buffers.length, resource: { buffer: uniform } });
  }
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  const errors = [await device.popErrorScope(), await device.popErrorScope()].filter((e) => e !== null);
  if (errors.length) {
    destroy();
    throw new Error(`${plan.kernel.name}: ${errors.map((e) => e!.message.trim().replace(/\s*\n\s*/g, ' | ')).join('; ')}`);
  }
  return { plan, pipeline, bindGroup, buffers, destroy };
}

/** Warm-up runs (the first compiles and touches the buffers), then the median and spread of the timed runs. */
export async function timePlan(ctx: GpuContext, plan: RooflinePlan | PreparedPlan, options: TimingOptions): Promise<PlanTiming> {
  const prepared = 'pipeline' in plan ? plan : await preparePlan(ctx, plan);
  const timestamps = options.timer === 'timestamp' ? new TimestampPair(ctx.device) : null;
  try {
    for (let i = 0; i < options.warmup; i++) await runOnce(ctx, prepared, timestamps);
    let ns: number[] = [];
    for (let i = 0; i < options.runs; i++) ns.push(await runOnce(ctx, prepared, timestamps));
    let timer = options.timer;
    if (timestamps && ns.some((t) => !(t > 0))) {
      // A driver that leaves timestamps at zero: the wall clock instead, for every run.
      timer = 'wall';
      ns = [];
      for (let i = 0; i < options.runs; i++) ns.push(await runOnce(ctx, prepared, null));
    }
    ctx.check();
    return { medianNs: median(ns), minNs: Math.min(...ns), maxNs: Math.max(...ns), timer };
  } finally {
    timestamps?.destroy();
    if (prepared !== plan) prepared.destroy();
  }
}

/** A query set of two timestamps (the timed pass's begin and end), its resolve buffer and its readback. */
class TimestampPair {
  readonly querySet: GPUQuerySet;
  readonly resolve: GPUBuffer;
  readonly readback: GPUBuffer;

  constructor(device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2, label: 'roofline.timestamps' });
    this.resolve = device.createBuffer({ size: 16, usage: QUERY_RESOLVE, label: 'roofline.timestamps.resolve' });
    this.readback = device.createBuffer({ size: 16, usage: READBACK, label: 'roofline.timestamps.readback' });
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    this.readback.destroy();
  }
}

/** One timed run: the plan's dispatches in one compute pass; nanoseconds by the pass's timestamps, or by the wall clock from submit to the queue's completion. */
async function runOnce(ctx: GpuContext, p: PreparedPlan, timestamps: TimestampPair | null): Promise<number> {
  const { device } = ctx;
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass(timestamps ? { timestampWrites: { querySet: timestamps.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  pass.setPipeline(p.pipeline);
  for (let i = 0; i < p.plan.repeats; i++) {
    pass.setBindGroup(0, p.bindGroup); // as the engine does per dispatch
    pass.dispatchWorkgroups(...p.plan.workgroups);
  }
  pass.end();
  if (timestamps) {
    encoder.resolveQuerySet(timestamps.querySet, 0, 2, timestamps.resolve, 0);
    encoder.copyBufferToBuffer(timestamps.resolve, 0, timestamps.readback, 0, 16);
  }
  const commands = encoder.finish(); // encoded before the clock starts
  await device.queue.onSubmittedWorkDone(); // nothing else in flight
  const start = performance.now();
  device.queue.submit([commands]);
  await device.queue.onSubmittedWorkDone();
  const wallNs = (performance.now() - start) * 1e6;
  ctx.check();
  if (!timestamps) return wallNs;
  await timestamps.readback.mapAsync(GPUMapMode.READ);
  const [begin, end] = new BigInt64Array(timestamps.readback.getMappedRange());
  timestamps.readback.unmap();
  return Number(end - begin);
}

/** The one-JSON-object form, with exactly ROOFLINE_KEYS. */
export function rooflineJson(r: RooflineReport): string {
  return JSON.stringify(Object.fromEntries(ROOFLINE_KEYS.map((k) => [k, r.roofline[k]])));
}

/** A roofline as `modernbert roofline --json` printed it, checked key by key (`source` names it in errors). */
export function parseRoofline(text: string, source: string): Roofline {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message}); expected the output of modernbert roofline --json`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${source}: expected one JSON object, the output of modernbert roofline --json`);
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  const missing = ROOFLINE_KEYS.filter((k) => !(k in o));
  const extra = keys.filter((k) => !(ROOFLINE_KEYS as readonly string[]).includes(k));
  if (missing.length || extra.length) throw new Error(`${source}: ${[missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `unknown ${extra.join(', ')}` : ''].filter(Boolean).join('; ')}`);
  if (typeof o.adapter !== 'string') throw new Error(`${source}: adapter must be a string`);
  for (const k of ROOFLINE_KEYS.slice(1)) {
    const v = o[k];
    if (v === null && NULLABLE.has(k)) continue;
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new Error(`${source}: ${k} must be a positive number${NULLABLE.has(k) ? ' or null' : ''}, got ${JSON.stringify(v)}`);
  }
  return o as unknown as Roofline;
}

/** The human report: a header, one line per figure (median, spread, what ran). */
export function formatRoofline(r: RooflineReport): string {
  const columns = ['measure', 'median', 'unit', 'min', 'max', 'timer', 'size'];
  const num = (v: number | null) => (v === null ? '' : fixed(v));
  const cells = r.measures.map((m) => [m.label, num(m.median), m.unit, num(m.min), num(m.max), m.timer ?? '', m.absent ? `absent: ${m.absent}` : m.size]);
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i === 1 || i === 3 || i === 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ').trimEnd();
  const timers = new Set(r.measures.map((m) => m.timer).filter(Boolean));
  return [
    `modernbert roofline: ${r.roofline.adapter}${r.swiftshader ? ' (SwiftShader, a CPU implementation: these figures only show the kernels run, not GPU performance)' : ''}`,
    `${r.warmup} warm-up run${r.warmup === 1 ? '' : 's'}, then the median of ${r.runs} timed run${r.runs === 1 ? '' : 's'} per figure (min and max beside it); timer: ${[...timers].map((t) => (t === 'timestamp' ? 'timestamp-query around each run\'s compute pass' : 'wall time from submit to onSubmittedWorkDone')).join(', ')}`,
    '',
    line(columns),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...cells.map(line),
  ].join('\n') + '\n';
}

/** 4 significant digits, as a number (a tiny SwiftShader rate stays positive). */
function round(v: number | null): number | null {
  return v === null ? null : Number(v.toPrecision(4));
}

function fixed(v: number): string {
  return v >= 100 ? v.toFixed(1) : v >= 1 ? v.toFixed(3) : v.toPrecision(3);
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(bytes % 2 ** 20 ? 2 : 0);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
