// Launcher for embedding.wgsl.
import source from './embedding.wgsl';
import { type Launcher, grid } from './launch.ts';

export interface EmbeddingShape {
  T: number;
  C: number;
}

export interface EmbeddingArgs extends EmbeddingShape {
  tokens: GPUBuffer;
  table: GPUBuffer;
  out: GPUBuffer;
}

export function run(l: Launcher, a: EmbeddingArgs): void {
  l.dispatch({ name: 'embedding', source }, {}, [a.tokens, a.table, a.out], [['u32', a.T], ['u32', a.C]], grid(Math.ceil((a.T * a.C) / 64)));
}

export function flops(): number {
  return 0;
}

export function bytes(s: EmbeddingShape): number {
  return 4 * (s.T + 2 * s.T * s.C);
}
