// Launcher for roofline_sgmat.wgsl: the subgroup-matrix (tensor-core) multiply-accumulate rate (roofline.ts times it).
import source from './roofline_sgmat.wgsl';
import { type RooflinePlan, grid } from './launch.ts';
import type { SubgroupMatrixConfig } from '../device.ts';

export interface SgmatShape {
  workgroups: number;
  /** loop iterations, 8 multiply-accumulates per subgroup each */
  iterations: number;
  /** an f16 x f16 -> f32 shape the adapter lists */
  config: Pick<SubgroupMatrixConfig, 'M' | 'N' | 'K'>;
  /** the adapter's largest subgroup size: a workgroup has 4 subgroups of it */
  subgroupSize: number;
}

const SUBGROUPS = 4;
const SLOTS = 256;

export function plan(s: SgmatShape): RooflinePlan {
  const { M, N, K } = s.config;
  if (![M, N, K].every((v) => v === 8 || v === 16 || v === 32)) throw new Error(`roofline sgmat: ${M}x${N}x${K}: each side must be 8, 16 or 32`);
  return {
    kernel: { name: `roofline_sgmat_${M}x${N}x${K}_t${threads(s)}`, source: kernelSource(s) },
    buffers: [4 * SLOTS * SUBGROUPS * 4 * M * N],
    params: [['u32', s.iterations]],
    workgroups: grid(s.workgroups),
    repeats: 1,
    work: { flops: flops(s), bytes: 0 },
  };
}

export function threads(s: Pick<SgmatShape, 'subgroupSize'>): number {
  return SUBGROUPS * s.subgroupSize;
}

/** The source with the shape and workgroup size as constants (WGSL cannot size matrix types by overrides),
 *  at its `// @constants` line: after the enables and diagnostics, which must open the module. */
export function kernelSource(s: Pick<SgmatShape, 'config' | 'subgroupSize'>): string {
  const { M, N, K } = s.config;
  const consts = { SM: M, SN: N, SK: K, THREADS: threads(s) };
  return source.replace('// @constants\n', Object.entries(consts).map(([k, v]) => `const ${k}: u32 = ${v}u;\n`).join(''));
}

/** 4 subgroups x 8 multiply-accumulates of 2 x M x N x K FLOPs per iteration. */
export function flops(s: SgmatShape): number {
  const { M, N, K } = s.config;
  return s.workgroups * SUBGROUPS * s.iterations * 8 * 2 * M * N * K;
}
