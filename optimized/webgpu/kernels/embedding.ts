// Launcher for embedding.wgsl.
import source from './embedding.wgsl';
import { type PackedWeights, isPacked, packedSize } from './gemm_sgmat.ts';
import { type Launcher, grid } from './launch.ts';
import { type DType, accessors, bytesOf } from './storage.ts';

export interface EmbeddingShape {
  T: number;
  C: number;
  /** storage of the table (f16 where it is packed) and of out (default f32) */
  tableDtype?: DType;
  outDtype?: DType;
}

export interface EmbeddingArgs extends EmbeddingShape {
  tokens: GPUBuffer;
  /** row-major, or packed for the subgroup-matrix GEMM (a tied decoder's weight, packed for it) */
  table: GPUBuffer | PackedWeights;
  out: GPUBuffer;
}

export function run(l: Launcher, a: EmbeddingArgs): void {
  if (a.C % 2) throw new Error(`embedding: C = ${a.C} must be even (values move in pairs)`);
  const [table, out] = [a.tableDtype ?? 'f32', a.outDtype ?? 'f32'];
  const packed = isPacked(a.table) ? a.table : null;
  if (packed && (table !== 'f16' || packed.K !== a.C || packed.glu)) throw new Error(`embedding: the packed table is f16 [${packed.N}, ${packed.K}]; this lookup reads a ${table} table of ${a.C} columns`);
  // where packed: the fragment shape and the fragments along a row block
  const layout: ['u32', number][] = packed ? [['u32', packed.SN], ['u32', packed.SK], ['u32', packedSize(packed.N, packed.K, false).K / packed.SK]] : [['u32', 0], ['u32', 0], ['u32', 0]];
  const kernel = { name: `embedding_${table}_${out}`, source: accessors({ name: 'table', dtype: table, width: 2 }, { name: 'out', dtype: out, width: 2, write: true }) + source };
  l.dispatch(kernel, {}, [a.tokens, isPacked(a.table) ? a.table.buffer : a.table, a.out], [['u32', a.T], ['u32', a.C], ...layout], grid(Math.ceil((a.T * a.C) / 2 / 64)), { flops: flops(), bytes: bytes(a) });
}

export function flops(): number {
  return 0;
}

export function bytes(s: EmbeddingShape): number {
  return 4 * s.T + s.T * s.C * (bytesOf(s.tableDtype ?? 'f32') + bytesOf(s.outDtype ?? 'f32'));
}
