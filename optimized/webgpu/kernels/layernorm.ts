// Launcher for layernorm.wgsl.
import source from './layernorm.wgsl';
import { type Launcher, grid } from './launch.ts';
import { type DType, accessors, bytesOf } from './storage.ts';

export interface LayerNormShape {
  rows: number;
  C: number;
  /** storage of x and y (default f32); weight and bias are f32 */
  xDtype?: DType;
  yDtype?: DType;
}

export interface LayerNormArgs extends LayerNormShape {
  x: GPUBuffer;
  weight: GPUBuffer;
  bias: GPUBuffer | null;
  y: GPUBuffer;
  eps: number;
}

export function run(l: Launcher, a: LayerNormArgs): void {
  if (a.C % 2) throw new Error(`layernorm: C = ${a.C} must be even (values move in pairs)`);
  const [x, y] = [a.xDtype ?? 'f32', a.yDtype ?? 'f32'];
  const kernel = { name: `layernorm_${x}_${y}`, source: accessors({ name: 'x', dtype: x, width: 2 }, { name: 'y', dtype: y, width: 2, write: true }) + source };
  l.dispatch(kernel, {}, [a.x, a.weight, a.bias ?? l.absent.bias, a.y], [['u32', a.rows], ['u32', a.C], ['f32', a.eps], ['u32', a.bias ? 1 : 0]], grid(a.rows), { flops: flops(a), bytes: bytes(a) });
}

/** Per element: sum, deviation squared, normalize and scale. */
export function flops(s: LayerNormShape): number {
  return 8 * s.rows * s.C;
}

export function bytes(s: LayerNormShape): number {
  return s.rows * s.C * (bytesOf(s.xDtype ?? 'f32') + bytesOf(s.yDtype ?? 'f32')) + 4 * 2 * s.C;
}
