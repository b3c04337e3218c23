// `modernbert roofline`: each kernel does the work it is credited with (replayed on the CPU), the figures are
// positive where the device has the feature and null where it lacks it, and the CLI's contract. The f16 and
// subgroup-matrix kernels cannot run on SwiftShader: Dawn's Null backend, which offers both, compiles them and
// runs the whole measurement through its no-op queue (positive wall times, nothing computed).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type GpuContext, sharedDevice } from '../../optimized/webgpu/device.ts';
import * as copy from '../../optimized/webgpu/kernels/roofline_copy.ts';
import * as dispatch from '../../optimized/webgpu/kernels/roofline_dispatch.ts';
import * as fma from '../../optimized/webgpu/kernels/roofline_fma.ts';
import * as sgmat from '../../optimized/webgpu/kernels/roofline_sgmat.ts';
import * as shared from '../../optimized/webgpu/kernels/roofline_shared.ts';
import { ROOFLINE_KEYS, type Roofline, type RooflineReport, SWIFTSHADER_SIZES, adapterName, formatRoofline, measureRoofline, parseRoofline, preparePlan, timePlan } from '../../optimized/webgpu/roofline.ts';
import { rooflineBound } from '../../optimized/webgpu/profile.ts';
import './harness.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'modernbert.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

/** Copies a storage buffer's first `bytes` to the host. */
async function readBuffer(ctx: GpuContext, buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  const readback = ctx.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = ctx.device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, readback, 0, bytes);
  ctx.device.queue.submit([encoder.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const data = readback.getMappedRange().slice(0);
  readback.destroy();
  return data;
}

/** The figures are positive numbers, null exactly where the device lacks the feature. */
function expectFigures(r: Roofline, has: { f16: boolean; sgmat: boolean }): void {
  expect(Object.keys(r)).toEqual([...ROOFLINE_KEYS]);
  expect(typeof r.adapter).toBe('string');
  for (const k of ['fma_f32_gflops', 'workgroup_gbps', 'global_gbps', 'dispatch_us'] as const) expect(r[k], k).toBeGreaterThan(0);
  if (has.f16) expect(r.fma_f16_gflops).toBeGreaterThan(0);
  else expect(r.fma_f16_gflops).toBeNull();
  if (has.sgmat) expect(r.sgmat_gflops).toBeGreaterThan(0);
  else expect(r.sgmat_gflops).toBeNull();
}

const once = { runs: 1, warmup: 0, timer: 'wall' as const };
const dawnInstances: GPU[] = []; // Dawn instances must outlive their devices (see device.ts)

describe('roofline kernels do the work they are credited with', () => {
  it('f32 FMA: every thread runs 128 FMAs per iteration on 32 chains (replayed on the CPU)', async () => {
    const ctx = await sharedDevice();
    const shape = { workgroups: 2, iterations: 3, dtype: 'f32' as const };
    const p = await preparePlan(ctx, fma.plan(shape));
    try {
      await timePlan(ctx, p, once);
      const got = new Float32Array(await readBuffer(ctx, p.buffers[0], 4 * fma.threads(shape)));
      for (let thread = 0; thread < fma.threads(shape); thread += 37) {
        let sum = 0;
        for (let chain = 0; chain < 8; chain++) {
          for (let lane = 0; lane < 4; lane++) {
            let a = Math.fround((thread % 4) * 0.0078125 + lane * 0.03125 + chain * 0.125);
            for (let step = 0; step < 4 * shape.iterations; step++) a = Math.fround(a * fma.M + fma.C);
            sum += a;
          }
        }
        // one FMA more or less per chain moves the sum by about 2^-11 x sum(1 - a) = 1e-2: far above rounding
        expect(Math.abs(got[thread] - sum), `thread ${thread}: ${got[thread]} vs ${sum}`).toBeLessThan(1e-4);
      }
      expect(fma.flops(shape)).toBe(2 * 256 * 3 * 256);
    } finally {
      p.destroy();
    }
  });

  it('workgroup memory: every thread reads 8 vec4 per iteration at the stride (sums replayed exactly)', async () => {
    const ctx = await sharedDevice();
    const shape = { workgroups: 2, iterations: 5 };
    const p = await preparePlan(ctx, shared.plan(shape));
    try {
      await timePlan(ctx, p, once);
      const got = new Float32Array(await readBuffer(ctx, p.buffers[0], 4 * shape.workgroups * shared.THREADS));
      for (let group = 0; group < shape.workgroups; group++) {
        for (let li = 0; li < shared.THREADS; li += 29) {
          let sum = 0;
          for (let read = 0; read < 8 * shape.iterations; read++) {
            const e = (li + read * shared.STRIDE) % shared.TILE_VEC4;
            sum += (e % 8) + (e % 5) + (e % 3) + (group % 2);
          }
          expect(got[group * shared.THREADS + li], `group ${group} thread ${li}`).toBe(sum);
        }
      }
      expect(shared.bytes(shape)).toBe(2 * 256 * 16 * (4 + 8 * 5));
    } finally {
      p.destroy();
    }
  });

  it('copy: every byte of src reaches dst, each copy counted as a read and a write', async () => {
    const ctx = await sharedDevice();
    const shape = { bytes: 3 * copy.BLOCK_BYTES, repeats: 2 };
    const p = await preparePlan(ctx, copy.plan(shape));
    try {
      const src = Uint32Array.from({ length: shape.bytes / 4 }, (_, i) => (i * 2654435761) >>> 0);
      ctx.device.queue.writeBuffer(p.buffers[0], 0, src);
      await timePlan(ctx, p, once);
      expect(new Uint32Array(await readBuffer(ctx, p.buffers[1], shape.bytes))).toEqual(src);
      expect(p.plan.work.bytes * p.plan.repeats).toBe(2 * 2 * shape.bytes);
    } finally {
      p.destroy();
    }
    expect(() => copy.plan({ bytes: copy.BLOCK_BYTES + 16, repeats: 1 })).toThrow(/not a positive multiple of 16384/);
  });

  it('dispatch: every dispatch of every run (warm-up included) runs once', async () => {
    const ctx = await sharedDevice();
    const p = await preparePlan(ctx, dispatch.plan({ dispatches: 5 }));
    try {
      await timePlan(ctx, p, { runs: 3, warmup: 1, timer: ctx.features.timestampQuery ? 'timestamp' : 'wall' });
      expect(new Uint32Array(await readBuffer(ctx, p.buffers[0], 4))[0]).toBe(4 * 5);
    } finally {
      p.destroy();
    }
  });
});

describe('measureRoofline', () => {
  it('gives a positive figure for every feature this device has, null for the others, and a readable table', async () => {
    const ctx = await sharedDevice();
    const report: RooflineReport = await measureRoofline(ctx);
    const text = formatRoofline(report);
    process.stdout.write(text);
    expectFigures(report.roofline, { f16: ctx.features.shaderF16, sgmat: ctx.subgroupMatrix !== null });
    expect(report.roofline.adapter).toBe(adapterName(ctx.adapter));
    if (ctx.swiftshader) expect(report.runs).toBe(SWIFTSHADER_SIZES.runs);
    for (const m of report.measures.filter((m) => m.median !== null)) expect(m.min! <= m.median! && m.median! <= m.max!, m.label).toBe(true);
    const lines = text.split('\n');
    expect(lines[lines.findIndex((l) => l.startsWith('measure')) + 1]).toMatch(/^-+(-\|-+)+$/);
    if (!ctx.features.shaderF16) expect(text).toMatch(/f16 FMA .*absent: the device has no shader-f16/);
    if (!ctx.subgroupMatrix) expect(text).toMatch(/subgroup matrix .*absent: /);
  });

  it('times by wall clock where asked (the path of a device without timestamp-query)', async () => {
    const ctx = await sharedDevice();
    const report = await measureRoofline(ctx, { timer: 'wall', runs: 1 });
    expectFigures(report.roofline, { f16: ctx.features.shaderF16, sgmat: ctx.subgroupMatrix !== null });
    expect(new Set(report.measures.map((m) => m.timer).filter(Boolean))).toEqual(new Set(['wall']));
    expect(formatRoofline(report)).toContain('wall time from submit to onSubmittedWorkDone');
  });

  it('measures f16 FMA and subgroup matrices where the device has them (Dawn Null backend: compiled, not computed)', async () => {
    const { create } = await import('webgpu');
    const instance = create(['backend=null', 'enable-dawn-features=allow_unsafe_apis']);
    dawnInstances.push(instance);
    const adapter = (await instance.requestAdapter())!;
    const needed = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'] as GPUFeatureName[];
    expect(needed.filter((f) => !adapter.features.has(f))).toEqual([]);
    const device = await adapter.requestDevice({ requiredFeatures: needed });
    let error: string | null = null;
    device.addEventListener('uncapturederror', (e) => (error ??= (e as GPUUncapturedErrorEvent).error.message));
    const configs = [16, 8, 32].map((s) => ({ componentType: 'f16', resultComponentType: 'f32', M: s, N: s, K: s }));
    const ctx = {
      device,
      adapter: { vendor: 'dawn', architecture: 'null', description: 'Null backend' },
      swiftshader: true, // its small sizes
      features: { shaderF16: true, subgroups: true, timestampQuery: true, subgroupMatrix: true },
      subgroupMatrix: { configs, subgroupMaxSize: 32 },
      subgroupMatrixReason: null,
      isLost: () => false,
      check() {
        if (error) throw new Error(error);
      },
    } satisfies GpuContext;
    try {
      for (const [M, subgroupSize] of [[16, 32], [8, 64], [32, 32]]) {
        const shape = { workgroups: 1, iterations: 1, config: { M, N: M, K: M }, subgroupSize };
        const p = await preparePlan(ctx, sgmat.plan(shape)); // throws with the compiler's message
        p.destroy();
        expect(sgmat.flops(shape)).toBe(4 * 8 * 2 * M ** 3);
      }
      const report = await measureRoofline(ctx, { runs: 1 });
      expectFigures(report.roofline, { f16: true, sgmat: true });
      expect(report.measures.find((m) => m.key === 'sgmat_gflops')!.size).toMatch(/^(8x8x8|16x16x16|32x32x32): /);
    } finally {
      device.destroy();
    }
  });
});

describe('roofline inputs and bounds', () => {
  it('reads a saved roofline key by key', () => {
    const good = { adapter: 'a', fma_f32_gflops: 1, fma_f16_gflops: null, workgroup_gbps: 2, global_gbps: 3, sgmat_gflops: null, dispatch_us: 4 };
    expect(parseRoofline(JSON.stringify(good), 'f')).toEqual(good);
    expect(() => parseRoofline('{', 'f')).toThrow(/^f: not JSON/);
    expect(() => parseRoofline('[]', 'f')).toThrow('f: expected one JSON object');
    expect(() => parseRoofline(JSON.stringify({ ...good, dispatch_us: undefined, extra: 1 }), 'f')).toThrow('f: missing dispatch_us; unknown extra');
    expect(() => parseRoofline(JSON.stringify({ ...good, global_gbps: null }), 'f')).toThrow('f: global_gbps must be a positive number, got null');
    expect(() => parseRoofline(JSON.stringify({ ...good, sgmat_gflops: 0 }), 'f')).toThrow('f: sgmat_gflops must be a positive number or null, got 0');
  });

  it('holds GEMM and attention against the FMA rate of their arithmetic, the other kernels against global bandwidth', () => {
    expect(rooflineBound('gemm_v2_xf32_wf32_yf32')).toBe('fma_f32_gflops');
    expect(rooflineBound('gemm_v3_xf16_wf16_yf16_none_16x16_tm8_tn4_tk16')).toBe('fma_f32_gflops'); // f16 storage, f32 arithmetic
    expect(rooflineBound('gemm_sgmat_emulated_xf16_wf16_yf16_none_16x16x16_t128')).toBe('fma_f32_gflops');
    expect(rooflineBound('gemm_sgmat_xf16_wf16_yf16_none_16x16x16_t128')).toBe('sgmat_gflops');
    expect(rooflineBound('flash_attention_v2_d64_f16')).toBe('fma_f32_gflops');
    expect(rooflineBound('flash_attention_sgmat_d64_f16_16x16x16_bc32_t128')).toBe('sgmat_gflops');
    expect(rooflineBound('flash_attention_sgmat_emulated_d64_f16_16x16x16_bc32_t128')).toBe('fma_f32_gflops');
    expect(rooflineBound('attention_materialized')).toBe('fma_f32_gflops');
    for (const k of ['gemm_reduce_yf32', 'layernorm_f32_f32', 'rope_f16', 'embedding_f32_f32', 'pool']) expect(rooflineBound(k), k).toBe('global_gbps');
  });
});

describe('modernbert roofline (CLI)', () => {
  it('prints one JSON object with exactly the documented keys, and a table without --json', async () => {
    const ctx = await sharedDevice();
    const json = cli('roofline', '--json');
    expect(json.status, json.stderr).toBe(0);
    expect(json.stdout.trim().split('\n')).toHaveLength(1);
    const r = JSON.parse(json.stdout) as Roofline;
    expectFigures(r, { f16: ctx.features.shaderF16, sgmat: ctx.subgroupMatrix !== null });
    expect(r.adapter).toBe(adapterName(ctx.adapter));

    const table = cli('roofline', '--runs', '1');
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^modernbert roofline: /);
    for (const label of ['f32 FMA', 'f16 FMA', 'workgroup memory', 'global memory', 'subgroup matrix', 'empty dispatch']) expect(table.stdout).toMatch(new RegExp(`^${label}`, 'm'));
  });

  it('exits 2 with one line on stderr for bad options', () => {
    for (const [args, message] of [
      [['--bogus'], /^modernbert roofline: unknown option --bogus\n$/],
      [['extra'], /Unexpected argument 'extra'/],
      [['--runs', '0'], /--runs must be a positive integer, got "0"/],
      [['--runs', 'x'], /--runs must be a positive integer, got "x"/],
    ] as const) {
      const r = cli('roofline', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
  });
});
