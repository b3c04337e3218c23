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
 * The WebGPU optional features of a row: which the engine's kernels used (none yet: f16 storage is core
 * WGSL's pack2x16float) and which the device had.
 */
export function featuresText(ctx: Pick<GpuContext, 'features'>): string {
  const names = { shaderF16: 'shader-f16', subgroups: 'subgroups', timestampQuery: 'timestamp-query' } as const;
  const had = (Object.keys(names) as (keyof typeof names)[]).filter((k) => ctx.features[k]).map((k) => names[k]);
  return `used: none (core WGSL); device has: ${had.join(', ') || 'none'}`;
}

export function adapterName(ctx: Pick<GpuContext, 'adapter'>): string {
  const { vendor, architecture, description } = ctx.adapter;
  return [vendor, architecture, description].filter(Boolean).join(' / ') || 'unnamed adapter';
}
