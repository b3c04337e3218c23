// Launcher for roofline_shared.wgsl: workgroup-memory read bandwidth (roofline.ts times it).
import source from './roofline_shared.wgsl';
import { type RooflinePlan, grid } from './launch.ts';

export interface SharedShape {
  workgroups: number;
  /** loop iterations per thread, 8 vec4 reads each */
  iterations: number;
}

export const THREADS = 256;
export const TILE_VEC4 = 1024;
/** vec4s between a thread's consecutive reads: a multiple of 32 (a warp's 32 reads stay one contiguous 512-byte
 *  run), odd times 32 so the reads visit all 32 such runs of the tile before repeating. */
export const STRIDE = 3 * 32;

export function plan(s: SharedShape): RooflinePlan {
  return {
    kernel: { name: 'roofline_shared', source },
    buffers: [4 * s.workgroups * THREADS],
    params: [['u32', s.iterations], ['u32', STRIDE]],
    workgroups: grid(s.workgroups),
    repeats: 1,
    work: { flops: flops(s), bytes: bytes(s) },
  };
}

/** One vec4 add per read. */
export function flops(s: SharedShape): number {
  return s.workgroups * THREADS * s.iterations * 8 * 4;
}

/** Workgroup-memory bytes: each thread writes 4 vec4 of the tile and reads 8 vec4 per iteration. */
export function bytes(s: SharedShape): number {
  return s.workgroups * THREADS * 16 * (TILE_VEC4 / THREADS + 8 * s.iterations);
}
