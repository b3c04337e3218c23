// gpu.js and the mode it runs in: webgpu (WGSL compute shaders) when a WebGPU adapter exists, else webasm
// (WebAssembly SIMD), else cpu (plain JavaScript). `gpujs:<mode>` forces one; a forced mode that cannot run
// is an error, and the mode that actually ran is reported with the reason for any fallback.
import type { GPU } from 'gpu.js';

export type GpuJsMode = 'webgpu' | 'webasm' | 'cpu';
export const GPUJS_MODES: readonly GpuJsMode[] = ['webgpu', 'webasm', 'cpu'];

export interface GpuJsContext {
  gpu: GPU;
  /** the mode gpu.js runs in (read back from gpu.js, not assumed) */
  mode: GpuJsMode;
  /** why auto selection did not get a better mode; null when it did, or when the mode was forced */
  fallback: string | null;
}

export class GpuJsModeError extends Error {
  override name = 'GpuJsModeError';
}

// gpu.js finds WebGPU at navigator.gpu; in Node the `webgpu` package (Dawn) provides it. Kept for the life of
// the process, like device.ts's instances (a collected Dawn instance crashes the process).
let nodeWebGpu: Promise<boolean> | null = null;

async function provideNavigatorGpu(): Promise<boolean> {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav?.gpu) return true;
  if (typeof process === 'undefined' || !process.versions?.node) return false;
  nodeWebGpu ??= (async () => {
    const { acquireDevice } = await import('../webgpu/device.ts'); // sets up Dawn's globals and finds SwiftShader when needed
    try {
      (await acquireDevice()).device.destroy();
    } catch {
      return false;
    }
    const { create } = await import('webgpu');
    Object.defineProperty(globalThis, 'navigator', { value: { ...(nav ?? {}), gpu: create([]) }, configurable: true, writable: true });
    return true;
  })();
  return nodeWebGpu;
}

/** A gpu.js instance in the requested mode ('auto' picks the best that runs). */
export async function createGpuJs(requested: GpuJsMode | 'auto'): Promise<GpuJsContext> {
  const { GPU } = await import('gpu.js');
  const tried: string[] = [];
  for (const mode of requested === 'auto' ? GPUJS_MODES : [requested]) {
    if (mode === 'webgpu' && !(await provideNavigatorGpu())) {
      tried.push('webgpu: no WebGPU adapter');
      continue;
    }
    if (mode === 'webasm' && typeof WebAssembly === 'undefined') {
      tried.push('webasm: no WebAssembly in this runtime');
      continue;
    }
    let gpu: GPU;
    try {
      gpu = new GPU({ mode });
    } catch (e) {
      tried.push(`${mode}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    const ran = (gpu as unknown as { mode: string }).mode;
    if (ran !== mode) {
      // gpu.js may substitute a mode; that is a fallback, never a silent one.
      tried.push(`${mode}: gpu.js chose "${ran}" instead`);
      gpu.destroy();
      continue;
    }
    return { gpu, mode, fallback: requested === 'auto' && tried.length ? tried.join('; ') : null };
  }
  throw new GpuJsModeError(requested === 'auto' ? `no gpu.js mode can run here (${tried.join('; ')})` : `gpujs:${requested} cannot run here: ${tried.join('; ')}`);
}

// Models on gpu.js's WebGPU device (holdGpuJs): the last to let go closes the device, so a script that disposes
// its models exits.
let webgpuHolders = 0;

/** createGpuJs for a model, which frees it with releaseGpuJs. */
export async function holdGpuJs(requested: GpuJsMode | 'auto'): Promise<GpuJsContext> {
  const ctx = await createGpuJs(requested);
  if (ctx.mode === 'webgpu') webgpuHolders++;
  return ctx;
}

/** Destroys a held instance; the last held WebGPU instance closes gpu.js's device too. */
export async function releaseGpuJs(ctx: GpuJsContext): Promise<void> {
  ctx.gpu.destroy();
  if (ctx.mode === 'webgpu' && --webgpuHolders === 0) await closeGpuJsDevice();
}

/**
 * Destroys gpu.js's WebGPU device (one per process, shared by every instance; `gpu.destroy()` leaves it), so
 * the process can exit: Dawn keeps Node alive while a device exists.
 */
export async function closeGpuJsDevice(): Promise<void> {
  if (!nodeWebGpu) return;
  const { WebGPUContext } = (await import('gpu.js')) as unknown as { WebGPUContext: { destroy(): Promise<void> } };
  await WebGPUContext.destroy();
}
