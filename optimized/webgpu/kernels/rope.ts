// Launcher for rope.wgsl.
import source from './rope.wgsl';
import { type Launcher, grid } from './launch.ts';
import { type DType, accessors, bytesOf } from './storage.ts';

export interface RopeShape {
  T: number;
  H: number;
  D: number;
  /** storage of qkv (default f32) */
  dtype?: DType;
}

export interface RopeArgs extends RopeShape {
  qkv: GPUBuffer;
  positions: GPUBuffer;
  cos: GPUBuffer;
  sin: GPUBuffer;
}

export function run(l: Launcher, a: RopeArgs): void {
  if (a.D % 4) throw new Error(`rope: head dim ${a.D} must be a multiple of 4 (each thread rotates two pairs)`);
  const dtype = a.dtype ?? 'f32';
  const kernel = { name: `rope_${dtype}`, source: accessors({ name: 'qkv', dtype, width: 2, write: true }) + source };
  l.dispatch(kernel, {}, [a.qkv, a.positions, a.cos, a.sin], [['u32', a.T], ['u32', a.H], ['u32', a.D]], grid(Math.ceil((a.T * a.H * a.D) / 2 / 64)), { flops: flops(a), bytes: bytes(a) });
}

/** Per rotated pair: 4 multiplies, 2 adds; q and k. */
export function flops(s: RopeShape): number {
  return 6 * s.T * s.H * s.D;
}

/** q and k read and written, positions read (the cos/sin tables mostly hit in cache). */
export function bytes(s: RopeShape): number {
  return 2 * 2 * s.T * s.H * s.D * bytesOf(s.dtype ?? 'f32') + 4 * s.T;
}
