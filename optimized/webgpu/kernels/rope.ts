// Launcher for rope.wgsl.
import source from './rope.wgsl';
import { type Launcher, grid } from './launch.ts';

export interface RopeShape {
  T: number;
  H: number;
  D: number;
}

export interface RopeArgs extends RopeShape {
  qkv: GPUBuffer;
  positions: GPUBuffer;
  cos: GPUBuffer;
  sin: GPUBuffer;
}

export function run(l: Launcher, a: RopeArgs): void {
  l.dispatch({ name: 'rope', source }, {}, [a.qkv, a.positions, a.cos, a.sin], [['u32', a.T], ['u32', a.H], ['u32', a.D]], grid(Math.ceil((a.T * a.H * a.D) / 64)));
}

/** Per rotated pair: 4 multiplies, 2 adds; q and k. */
export function flops(s: RopeShape): number {
  return 6 * s.T * s.H * s.D;
}

export function bytes(s: RopeShape): number {
  return 4 * (4 * s.T * s.H * s.D + s.T);
}
