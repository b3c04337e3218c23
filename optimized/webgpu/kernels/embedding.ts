// Launcher for embedding.wgsl.
import source from './embedding.wgsl';
import { type Launcher, grid } from './launch.ts';
import { type DType, accessors, bytesOf } from './storage.ts';

export interface EmbeddingShape {
  T: number;
  C: number;
  /** storage of the table and of out (default f32) */
  tableDtype?: DType;
  outDtype?: DType;
}

export interface EmbeddingArgs extends EmbeddingShape {
  tokens: GPUBuffer;
  table: GPUBuffer;
  out: GPUBuffer;
}

export function run(l: Launcher, a: EmbeddingArgs): void {
  if (a.C % 2) throw new Error(`embedding: C = ${a.C} must be even (values move in pairs)`);
  const [table, out] = [a.tableDtype ?? 'f32', a.outDtype ?? 'f32'];
  const kernel = { name: `embedding_${table}_${out}`, source: accessors({ name: 'table', dtype: table, width: 2 }, { name: 'out', dtype: out, width: 2, write: true }) + source };
  l.dispatch(kernel, {}, [a.tokens, a.table, a.out], [['u32', a.T], ['u32', a.C]], grid(Math.ceil((a.T * a.C) / 2 / 64)), { flops: flops(), bytes: bytes(a) });
}

export function flops(): number {
  return 0;
}

export function bytes(s: EmbeddingShape): number {
  return 4 * s.T + s.T * s.C * (bytesOf(s.tableDtype ?? 'f32') + bytesOf(s.outDtype ?? 'f32'));
}
