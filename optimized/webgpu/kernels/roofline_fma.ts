// Launcher for roofline_fma.wgsl: the FMA rate of f32 or f16 arithmetic (roofline.ts times it).
import source from './roofline_fma.wgsl';
import { type RooflinePlan, grid } from './launch.ts';

export interface FmaShape {
  workgroups: number;
  /** loop iterations per thread, 128 scalar FMAs each */
  iterations: number;
  dtype: 'f32' | 'f16';
}

export const THREADS = 256;
/** The chains run a = fma(a, M, C) towards C / (1 - M) = 1; both are exact in f16 and f32. */
export const M = 1 - 2 ** -11;
export const C = 2 ** -11;

export function plan(s: FmaShape): RooflinePlan {
  const header = s.dtype === 'f16' ? 'enable f16;\nalias scalar_t = f16;\n' : 'alias scalar_t = f32;\n';
  return {
    kernel: { name: `roofline_fma_${s.dtype}`, source: header + source },
    buffers: [4 * threads(s)],
    params: [['u32', s.iterations], ['f32', M], ['f32', C]],
    workgroups: grid(s.workgroups),
    repeats: 1,
    work: { flops: flops(s), bytes: bytes(s) },
  };
}

export function threads(s: FmaShape): number {
  return s.workgroups * THREADS;
}

/** 4 rounds x 8 vec4 FMAs per iteration: 128 FMAs, 256 FLOPs. */
export function flops(s: FmaShape): number {
  return threads(s) * s.iterations * 256;
}

/** The one f32 each thread writes is left out (under 0.01% of the time at real sizes). */
export function bytes(_s: FmaShape): number {
  return 0;
}
