// Launcher for roofline_copy.wgsl: global-memory bandwidth of a copy (roofline.ts times it).
import source from './roofline_copy.wgsl';
import { type RooflinePlan, grid } from './launch.ts';

export interface CopyShape {
  /** bytes of each of src and dst: a multiple of BLOCK_BYTES */
  bytes: number;
  /** copies per timed run (dispatches in one compute pass) */
  repeats: number;
}

export const THREADS = 256;
/** What one workgroup copies: 4 vec4 per thread. */
export const BLOCK_BYTES = THREADS * 4 * 16;

export function plan(s: CopyShape): RooflinePlan {
  if (!(s.bytes > 0 && s.bytes % BLOCK_BYTES === 0)) throw new Error(`roofline copy: ${s.bytes} bytes is not a positive multiple of ${BLOCK_BYTES}`);
  return {
    kernel: { name: 'roofline_copy', source },
    buffers: [s.bytes, s.bytes],
    params: [['u32', s.bytes / 16]],
    workgroups: grid(s.bytes / BLOCK_BYTES),
    repeats: s.repeats,
    work: { flops: 0, bytes: bytes(s) },
  };
}

/** Per copy (one dispatch): every byte read once and written once. */
export function bytes(s: CopyShape): number {
  return 2 * s.bytes;
}
