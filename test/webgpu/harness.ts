// Shared set-up for the WebGPU tests: the process's device, a fresh pool and launcher per test, uploads,
// readback, and DESIGN §4's tolerance rule for kernels against the reference.
import { afterAll, expect } from 'vitest';
import { closeSharedDevice, sharedDevice } from '../../optimized/webgpu/device.ts';
import { Launcher } from '../../optimized/webgpu/kernels/launch.ts';
import { BufferPool } from '../../optimized/webgpu/memory.ts';

// Dawn keeps the process alive while a device exists: close it when the file is done.
afterAll(closeSharedDevice);

// Dawn instances must outlive their devices (see device.ts).
const nullInstances: GPU[] = [];

/**
 * A device on Dawn's Null backend with subgroup matrices (allow_unsafe_apis): it runs nothing, but its shader
 * compiler checks the native subgroup-matrix kernels that SwiftShader cannot build.
 */
export async function nullDevice(): Promise<GPUDevice> {
  const { create } = await import('webgpu');
  const instance = create(['backend=null', 'enable-dawn-features=allow_unsafe_apis']);
  nullInstances.push(instance);
  const adapter = (await instance.requestAdapter())!;
  const needed = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'] as GPUFeatureName[];
  expect(needed.filter((f) => !adapter.features.has(f))).toEqual([]);
  return adapter.requestDevice({ requiredFeatures: needed });
}

/** The errors of a shader module, as `line:column message` (an invalid module is reported here, not printed). */
export async function compileErrors(device: GPUDevice, code: string): Promise<string[]> {
  device.pushErrorScope('validation');
  const info = await device.createShaderModule({ code }).getCompilationInfo();
  await device.popErrorScope();
  return info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
}

/** Why making a compute pipeline of `code` ('main') failed (a validation error, or the rejection), or undefined. */
export async function pipelineError(device: GPUDevice, code: string): Promise<string | undefined> {
  device.pushErrorScope('validation');
  let rejected: string | undefined;
  await device.createComputePipelineAsync({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } }).catch((e: Error) => (rejected = e.message));
  const scoped = (await device.popErrorScope())?.message;
  return rejected ?? scoped;
}

/**
 * The padded layout of packed qkv rows [T, 3, H, D]: sequence b at rows b * L .. b * L + lengths[b] - 1, then
 * pads whose q is large and whose k and v are NaN (a pad seen as a key, or even multiplied by a zero weight,
 * turns its query's output into NaN).
 */
export function withGarbagePads(packed: Float32Array, lengths: readonly number[], L: number, H: number, D: number, seed: number): Float32Array {
  const row = 3 * H * D;
  const padded = Float32Array.from(values(lengths.length * L * row, seed, 50));
  for (let t = 0; t < lengths.length * L; t++) padded.fill(NaN, t * row + H * D, (t + 1) * row);
  let start = 0;
  lengths.forEach((n, b) => {
    padded.set(packed.subarray(start * row, (start + n) * row), b * L * row);
    start += n;
  });
  return padded;
}

/** A launcher on the shared device (no adapter is an error, never a skip). */
export async function gpu(): Promise<Launcher> {
  const ctx = await sharedDevice();
  return new Launcher(ctx, new BufferPool(ctx.device));
}

export async function read(l: Launcher, buffer: GPUBuffer, floats: number): Promise<Float32Array> {
  return (await l.finish([{ buffer, floats }]))[0];
}

/** Deterministic values in [-scale, scale). */
export function values(n: number, seed: number, scale = 1): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  });
}

function errors(got: ArrayLike<number>, want: ArrayLike<number>): { max: number; mean: number } {
  expect(got.length).toBe(want.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= max)) max = d;
    sum += d;
  }
  return { max, mean: sum / Math.max(1, want.length) };
}

/**
 * DESIGN §4 (flash-attention's rule): a kernel passes when maxAbs(kernel - ref64) <= 2 * maxAbs(ref32 - ref64) + floor.
 * Prints both errors so a regression shows how far it moved.
 */
export function expectKernelClose(what: string, kernel: ArrayLike<number>, ref32: ArrayLike<number>, ref64: ArrayLike<number>, floor: number): void {
  const k = errors(kernel, ref64);
  const r = errors(ref32, ref64);
  console.log(`${what}: kernel max ${k.max.toExponential(2)} mean ${k.mean.toExponential(2)} | ref32 max ${r.max.toExponential(2)} mean ${r.mean.toExponential(2)}`);
  expect(k.max, `${what}: kernel error ${k.max} vs ref32 error ${r.max}`).toBeLessThanOrEqual(2 * r.max + floor);
}

/** What storing a result as f16 may add to its error: half an f16 ulp (2^-11 relative) of the largest value; 0 for f32. */
export function storageRounding(dtype: 'f32' | 'f16', want: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]));
  return dtype === 'f16' ? 2 ** -11 * max : 0;
}
