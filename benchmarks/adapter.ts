// How result rows name the machine they ran on: the device slug that groups the leaderboard, the WebGPU
// adapter's name and its optional features. No Node modules: the browser bench page uses them too.
import type { GpuContext } from '../optimized/webgpu/device.ts';

/** "NVIDIA H100 80GB HBM3" -> "nvidia-h100-80gb-hbm3". */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/\((r|tm)\)|\bcpu\b|@.*$/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 48);
}

/**
 * The WebGPU optional features of a row: which the engine's kernels used (f16 storage is core WGSL's
 * pack2x16float; only the subgroup-matrix GEMM uses optional features) and which the device had.
 */
export function featuresText(ctx: Pick<GpuContext, 'features'>, used: readonly string[] = []): string {
  const names = { shaderF16: 'shader-f16', subgroups: 'subgroups', timestampQuery: 'timestamp-query', subgroupMatrix: SUBGROUP_MATRIX_FEATURES[0] } as const;
  const had = (Object.keys(names) as (keyof typeof names)[]).filter((k) => ctx.features[k]).map((k) => names[k]);
  return `used: ${used.length ? used.join(', ') : 'none (core WGSL)'}; device has: ${had.join(', ') || 'none'}`;
}

/** What the subgroup-matrix kernels (gemm_sgmat.wgsl, flash_attention_sgmat.wgsl) enable. */
export const SUBGROUP_MATRIX_FEATURES = ['chromium-experimental-subgroup-matrix', 'shader-f16', 'subgroups'] as const;

export function adapterName(ctx: Pick<GpuContext, 'adapter'>): string {
  const { vendor, architecture, description } = ctx.adapter;
  return [vendor, architecture, description].filter(Boolean).join(' / ') || 'unnamed adapter';
}
