// Launcher for layernorm.wgsl.
import source from './layernorm.wgsl';
import { type Launcher, grid } from './launch.ts';

export interface LayerNormShape {
  rows: number;
  C: number;
}

export interface LayerNormArgs extends LayerNormShape {
  x: GPUBuffer;
  weight: GPUBuffer;
  bias: GPUBuffer | null;
  y: GPUBuffer;
  eps: number;
}

export function run(l: Launcher, a: LayerNormArgs): void {
  l.dispatch({ name: 'layernorm', source }, {}, [a.x, a.weight, a.bias ?? l.absent.bias, a.y], [['u32', a.rows], ['u32', a.C], ['f32', a.eps], ['u32', a.bias ? 1 : 0]], grid(a.rows));
}

/** Per element: sum, deviation squared, normalize and scale. */
export function flops(s: LayerNormShape): number {
  return 8 * s.rows * s.C;
}

export function bytes(s: LayerNormShape): number {
  return 4 * (2 * s.rows * s.C + 2 * s.C);
}
