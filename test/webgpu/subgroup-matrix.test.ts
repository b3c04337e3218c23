// Which subgroup-matrix shapes the engine takes from an adapter (f16 x f16 -> f32, with shader-f16 and
// subgroups), why it takes none, and how result rows name the features a kernel used.
import { describe, expect, it } from 'vitest';
import { requestDeviceWithFeatures, usableSubgroupMatrices } from '../../optimized/webgpu/device.ts';
import { SUBGROUP_MATRIX_FEATURES, featuresText } from '../../benchmarks/adapter.ts';
import * as gemm from '../../optimized/webgpu/kernels/gemm.ts';
import type { Launcher } from '../../optimized/webgpu/kernels/launch.ts';
import { type Tuning, tunedGemmTile } from '../../optimized/webgpu/tuning.ts';
import { modelKernels } from '../../optimized/webgpu/modernbert.ts';
import type { GpuContext } from '../../optimized/webgpu/device.ts';
import { presetConfig } from '../../reference/config.ts';

const SGMAT = 'chromium-experimental-subgroup-matrix';
const config = (componentType: string, resultComponentType: string, M: number, N: number, K: number) => ({ componentType, resultComponentType, M, N, K });
function adapter(features: string[], configs: ReturnType<typeof config>[]): GPUAdapter {
  return { features: new Set(features), info: { subgroupMatrixConfigs: configs } } as unknown as GPUAdapter;
}

describe('subgroup matrices', () => {
  it('takes the f16 -> f32 shapes of 8, 16 or 32 and says why it takes none', () => {
    const all = ['shader-f16', 'subgroups', SGMAT];
    // NVIDIA with vulkan_enable_f16_on_nvidia lists f16 shapes beside the integer ones
    const nvidia = [config('f16', 'f16', 16, 16, 16), config('f16', 'f32', 16, 16, 16), config('i8', 'i32', 16, 16, 32)];
    expect(usableSubgroupMatrices(adapter(all, nvidia))).toEqual({ configs: [config('f16', 'f32', 16, 16, 16)], reason: '' });
    // what the H200 listed without the toggle (reports/2026-12-04-nvidia-h200/info.json): no shader-f16
    const h200 = [config('u8', 'u32', 16, 16, 32), config('i8', 'i32', 16, 16, 32)];
    expect(usableSubgroupMatrices(adapter(['subgroups', SGMAT], h200)).reason).toBe(`${SGMAT} is offered, but not shader-f16`);
    expect(usableSubgroupMatrices(adapter(all, h200)).reason).toBe('no f16 x f16 -> f32 configuration (the adapter lists: u8xu8->u32 16x16x32, i8xi8->i32 16x16x32)');
    expect(usableSubgroupMatrices(adapter(all, [config('f16', 'f32', 16, 16, 64)])).configs).toEqual([]);
    expect(usableSubgroupMatrices(adapter(['shader-f16', 'subgroups'], [])).reason).toBe(`the adapter does not offer ${SGMAT} (asked with allow_unsafe_apis)`);
  });

  it('makes the device without a listed feature the driver refuses: subgroup matrices first, then every optional one', async () => {
    const limits = { maxBufferSize: 1 << 20 };
    // A fake adapter whose requestDevice refuses any of `refuses`, and records what each call asked for.
    const fake = (refuses: string[]) => {
      const asked: string[][] = [];
      return {
        asked,
        requestDevice: async (d?: GPUDeviceDescriptor) => {
          const features = [...(d?.requiredFeatures ?? [])] as string[];
          asked.push(features);
          const bad = features.filter((f) => refuses.includes(f));
          if (bad.length) throw new Error(`cannot enable ${bad.join(', ')}`);
          expect(d?.requiredLimits).toEqual(limits);
          return { label: features.join(',') } as unknown as GPUDevice;
        },
      };
    };
    const wanted = ['shader-f16', 'subgroups', 'timestamp-query', SGMAT] as GPUFeatureName[];
    const granted = await requestDeviceWithFeatures(fake([]), wanted, limits);
    expect([granted.features, granted.refused, granted.device.label]).toEqual([wanted, null, wanted.join(',')]);

    const noMatrices = fake([SGMAT]);
    const without = await requestDeviceWithFeatures(noMatrices, wanted, limits);
    expect(noMatrices.asked).toEqual([wanted, wanted.slice(0, 3)]);
    expect(without.features).toEqual(wanted.slice(0, 3));
    expect(without.refused).toBe(`requestDevice refused shader-f16, subgroups, timestamp-query, ${SGMAT}: cannot enable ${SGMAT}`);

    const noF16 = fake(['shader-f16']);
    const bare = await requestDeviceWithFeatures(noF16, wanted, limits);
    expect(noF16.asked).toEqual([wanted, wanted.slice(0, 3), []]);
    expect([bare.features, bare.refused]).toEqual([[], `requestDevice refused ${wanted.join(', ')}: cannot enable shader-f16`]);

    // nothing to drop: the error is the caller's
    const none = { requestDevice: async () => Promise.reject(new Error('device lost at creation')) };
    await expect(requestDeviceWithFeatures(none, wanted, limits)).rejects.toThrow('device lost at creation');
    await expect(requestDeviceWithFeatures(none, [], limits)).rejects.toThrow('device lost at creation');
  });

  it('names the features a row used: the subgroup-matrix kernels where they ran', () => {
    const features = { shaderF16: true, subgroups: true, timestampQuery: false, subgroupMatrix: true };
    expect(featuresText({ features })).toBe(`used: none (core WGSL); device has: shader-f16, subgroups, ${SGMAT}`);
    expect(featuresText({ features }, SUBGROUP_MATRIX_FEATURES)).toBe(`used: ${SGMAT}, shader-f16, subgroups; device has: shader-f16, subgroups, ${SGMAT}`);
  });

  it('runs a tuned subgroup-matrix shape only on a device that has it; elsewhere the default tile', () => {
    const shape = { M: 512, N: 2304, K: 768, epilogue: 'none' as const, dtypes: { x: 'f16', W: 'f16', y: 'f16' } as const };
    const tile: gemm.SgmatTile = { kernel: 'sgmat', SM: 16, SN: 16, SK: 16 };
    const tuning: Tuning = { adapter: 'a', date: 'd', attention: [], gemm: [{ ...shape, dtypes: 'f16.f16.f16', tile, ms: 1, defaultMs: 2 }] };
    const launcher = (configs: ReturnType<typeof config>[] | null) => ({ ctx: { subgroupMatrix: configs && { configs, subgroupMaxSize: 32 }, device: { limits: { maxComputeWorkgroupStorageSize: 32768 } } } }) as unknown as Launcher;
    const tuned = tunedGemmTile(tuning, shape);
    expect(gemm.tileFor(launcher([config('f16', 'f32', 16, 16, 16)]), shape, undefined, undefined, tuned)).toEqual(tile);
    expect(gemm.tileFor(launcher(null), shape, undefined, undefined, tuned)).toEqual(gemm.defaultTile(shape, 32768)); // made with subgroupMatrix: false
    expect(gemm.tileFor(launcher([config('f16', 'f32', 8, 8, 8)]), shape, undefined, undefined, tuned)).toEqual(gemm.defaultTile(shape, 32768));
    // a forced kernel still takes its own tuned tile; another kernel's tuned tile gives it its default
    expect(gemm.tileFor(launcher(null), shape, 'v4', undefined, gemm.V4_SMALL_TILE)).toEqual(gemm.V4_SMALL_TILE);
    expect(gemm.tileFor(launcher(null), shape, 'v3', undefined, gemm.V4_SMALL_TILE)).toEqual(gemm.defaultTile(shape, 32768, 'v3'));
  });

  it('puts every GEMM and attention of an f16 model on subgroup matrices where the adapter has them, unless forced otherwise', () => {
    const device = (configs: ReturnType<typeof config>[] | null, workgroupBytes = 32768) =>
      ({ subgroupMatrix: configs && { configs, subgroupMaxSize: 32 }, device: { limits: { maxComputeWorkgroupStorageSize: workgroupBytes } } }) as unknown as GpuContext;
    const nvidia = device([config('f16', 'f32', 16, 16, 16)]);
    const base = presetConfig('base');
    expect(modelKernels(nvidia, base, 'f16', {})).toEqual({ gemm: 'sgmat', attention: 'flash_sgmat' });
    expect(modelKernels(nvidia, base, 'f16', { gemm: 'v4' })).toEqual({ gemm: 'v4', attention: 'flash_sgmat' });
    expect(modelKernels(nvidia, base, 'f16', { attention: 'flash_v2' })).toEqual({ gemm: 'sgmat', attention: 'flash_v2' });
    // f32 storage, or no subgroup matrices: the tuned or default kernels (sgmat emulated only when forced)
    expect(modelKernels(nvidia, base, 'f32', {})).toEqual({});
    expect(modelKernels(device(null), base, 'f16', {})).toEqual({});
    expect(modelKernels(device(null), base, 'f16', { gemm: 'sgmat' })).toEqual({ gemm: 'sgmat' });
    expect(modelKernels(null, base, 'f16', {})).toEqual({});
    // a tuning that timed f16 GEMMs on this adapter: sgmat unless it won none of them
    const tuned = (...kernels: ('sgmat' | 'v4')[]): Tuning => ({
      adapter: 'a',
      date: 'd',
      attention: [],
      gemm: kernels.map((kernel, i) => ({ M: 512, N: 768 * (i + 1), K: 768, epilogue: 'none', dtypes: 'f16.f16.f16', tile: kernel === 'sgmat' ? { kernel, SM: 16, SN: 16, SK: 16 } : gemm.V4_SMALL_TILE, ms: 1, defaultMs: 2 })),
    });
    expect(modelKernels(nvidia, base, 'f16', {}, tuned('v4', 'v4')).gemm).toBeUndefined();
    expect(modelKernels(nvidia, base, 'f16', {}, tuned('v4', 'sgmat')).gemm).toBe('sgmat');
    expect(modelKernels(nvidia, base, 'f16', { gemm: 'sgmat' }, tuned('v4')).gemm).toBe('sgmat');
    // attention stays on flash v2 where its head dim has no flash_sgmat tile: past 128, or beyond the workgroup memory
    expect(modelKernels(nvidia, { ...base, headDim: 256 }, 'f16', {})).toEqual({ gemm: 'sgmat', attention: undefined });
    expect(modelKernels(device([config('f16', 'f32', 16, 16, 16)], 8192), base, 'f16', {})).toEqual({ gemm: 'sgmat', attention: undefined });
  });
});
