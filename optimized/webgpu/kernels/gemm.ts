// Launcher for gemm.wgsl (tiled, with epilogues) and gemm_naive.wgsl (the baseline).
import naiveSource from './gemm_naive.wgsl';
import tiledSource from './gemm.wgsl';
import { type Launcher, grid } from './launch.ts';

export type Epilogue = 'none' | 'residual' | 'gelu' | 'geglu';
const EPILOGUE: Record<Epilogue, number> = { none: 0, residual: 1, gelu: 2, geglu: 3 };

export interface GemmShape {
  /** rows of x (tokens) */
  M: number;
  /** output features (for GeGLU: I, while W has 2I rows) */
  N: number;
  K: number;
  epilogue: Epilogue;
}

export interface GemmArgs extends GemmShape {
  x: GPUBuffer;
  W: GPUBuffer;
  bias: GPUBuffer | null;
  residual?: GPUBuffer | null;
  y: GPUBuffer;
  variant?: 'tiled' | 'naive';
}

export function run(l: Launcher, a: GemmArgs): void {
  const buffers = [a.x, a.W, a.bias ?? l.absent.bias, a.residual ?? l.absent.residual, a.y];
  if (a.epilogue === 'residual' && !a.residual) throw new Error('gemm: the residual epilogue needs a residual buffer');
  if (a.variant === 'naive') {
    if (a.epilogue === 'gelu' || a.epilogue === 'geglu') throw new Error(`gemm: the naive variant has no ${a.epilogue} epilogue`);
    l.dispatch({ name: 'gemm_naive', source: naiveSource }, {}, buffers, [['u32', a.M], ['u32', a.N], ['u32', a.K], ['u32', a.bias ? 1 : 0], ['u32', a.epilogue === 'residual' ? 1 : 0]], [Math.ceil(a.N / 64), ...grid(a.M)]);
    return;
  }
  if (a.M > 64 * 65535) throw new Error(`gemm: ${a.M} rows exceed the grid`);
  l.dispatch({ name: 'gemm', source: tiledSource }, { EPILOGUE: EPILOGUE[a.epilogue] }, buffers, [['u32', a.M], ['u32', a.N], ['u32', a.K], ['u32', a.bias ? 1 : 0]], [Math.ceil(a.N / 64), Math.ceil(a.M / 64)]);
}

export function flops(s: GemmShape): number {
  return 2 * s.M * s.N * s.K * (s.epilogue === 'geglu' ? 2 : 1);
}

/** Compulsory traffic: x and W read once, y written once (and the residual read). */
export function bytes(s: GemmShape): number {
  const wRows = s.epilogue === 'geglu' ? 2 * s.N : s.N;
  return 4 * (s.M * s.K + wRows * s.K + s.M * s.N * (s.epilogue === 'residual' ? 2 : 1));
}
