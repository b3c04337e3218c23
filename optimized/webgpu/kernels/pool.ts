// Launcher for pool.wgsl.
import source from './pool.wgsl';
import { type Launcher, grid } from './launch.ts';

export type Pooling = 'cls' | 'mean';

export interface PoolShape {
  T: number;
  B: number;
  C: number;
  pooling: Pooling;
}

export interface PoolArgs extends PoolShape {
  hidden: GPUBuffer;
  cuSeqlens: GPUBuffer;
  /** padded execution: real rows per sequence [B] */
  sequsedK?: GPUBuffer;
  out: GPUBuffer;
}

export function run(l: Launcher, a: PoolArgs): void {
  l.dispatch({ name: 'pool', source }, {}, [a.hidden, a.cuSeqlens, a.sequsedK ?? l.absent.sequsedK, a.out], [['u32', a.B], ['u32', a.C], ['u32', a.pooling === 'mean' ? 1 : 0], ['u32', a.sequsedK ? 1 : 0]], grid(Math.ceil((a.B * a.C) / 64)), { flops: flops(a), bytes: bytes(a) });
}

export function flops(s: PoolShape): number {
  return s.pooling === 'mean' ? s.T * s.C : 0;
}

export function bytes(s: PoolShape): number {
  return 4 * ((s.pooling === 'mean' ? s.T : s.B) * s.C + s.B * s.C);
}
