// Launcher for the GEMMs: gemm_v2.wgsl (vec4, register tiles of TM x 4 outputs, tile shape as override
// constants), gemm_v1.wgsl (the previous tiled kernel, v2's baseline) and gemm_naive.wgsl (one thread per output).
import activationSource from './activation.wgsl';
import naiveSource from './gemm_naive.wgsl';
import v1Source from './gemm_v1.wgsl';
import v2Source from './gemm_v2.wgsl';
import { type Launcher, MAX_GRID, grid } from './launch.ts';
import { type DType, accessors, bytesOf, columnStore } from './storage.ts';
import type { Activation } from '../../../reference/config.ts';
import { tunedGemmTile } from '../tuning.ts';

/** none; + residual; act(y); GLU: act(first half) * second half of a 2N-row W (GeGLU when act is gelu). */
export type Epilogue = 'none' | 'residual' | 'activation' | 'glu';
const EPILOGUE: Record<Epilogue, number> = { none: 0, residual: 1, activation: 2, glu: 3 };
const ACTIVATION: Record<Activation, number> = { gelu: 0, gelu_tanh: 1, silu: 2, relu: 3 };

export type GemmVariant = 'v2' | 'v1' | 'naive';

const F32 = { x: 'f32', W: 'f32', y: 'f32' } as const;

export interface GemmShape {
  /** rows of x (tokens) */
  M: number;
  /** output features (for GLU: I, while W has 2I rows) */
  N: number;
  K: number;
  epilogue: Epilogue;
  /** the activation of the activation and glu epilogues (default gelu) */
  activation?: Activation;
  /** storage of x, W and y (default f32; f16 needs v2, and N even for an f16 y); bias and residual are f32 */
  dtypes?: { x: DType; W: DType; y: DType };
}

/** v2's tile: WG_M x WG_N threads, each TM rows x 4 columns; the workgroup covers (WG_M * TM) x (WG_N * 4), K in steps of TK. */
export interface GemmTile {
  WG_M: number;
  WG_N: number;
  TM: 4 | 8;
  TK: number;
}

/** 128 x 64 outputs per workgroup, for grids large enough to fill a big GPU. */
export const LARGE_TILE: GemmTile = { WG_M: 16, WG_N: 16, TM: 8, TK: 16 };
/** 64 x 64 outputs per workgroup: twice the workgroups where the large tile would leave a big GPU idle. */
export const SMALL_TILE: GemmTile = { WG_M: 16, WG_N: 16, TM: 4, TK: 16 };
/** Below this many large-tile workgroups (about two waves on a 132-SM GPU) the small tile is the default. */
const LARGE_TILE_MIN_WORKGROUPS = 256;

export interface GemmArgs extends GemmShape {
  x: GPUBuffer;
  W: GPUBuffer;
  bias: GPUBuffer | null;
  residual?: GPUBuffer | null;
  y: GPUBuffer;
  /** default v2 (v1 when K % 4 != 0, which v2's vec4 loads cannot read) */
  variant?: GemmVariant;
  /** v2 only: the tile shape (default: the device's tuned choice for this shape, else defaultTile(shape)) */
  tile?: GemmTile;
}

export function run(l: Launcher, a: GemmArgs): void {
  const buffers = [a.x, a.W, a.bias ?? l.absent.bias, a.residual ?? l.absent.residual, a.y];
  const work = { flops: flops(a), bytes: bytes(a) };
  if (a.epilogue === 'residual' && !a.residual) throw new Error('gemm: the residual epilogue needs a residual buffer');
  const variant = a.variant ?? (a.K % 4 === 0 ? 'v2' : 'v1');
  const dtypes = a.dtypes ?? F32;
  const f16 = Object.values(dtypes).includes('f16');
  if (f16 && variant !== 'v2') throw new Error(`gemm: f16 storage needs v2 (${variant} reads f32 only${a.K % 4 ? `; K = ${a.K} is not a multiple of 4` : ''})`);
  if (dtypes.y === 'f16' && a.N % 2) throw new Error(`gemm: an f16 output needs N even (N = ${a.N})`);
  const params: ['u32', number][] = [['u32', a.M], ['u32', a.N], ['u32', a.K], ['u32', a.bias ? 1 : 0]];
  if (variant === 'naive') {
    if (a.epilogue === 'activation' || a.epilogue === 'glu') throw new Error(`gemm: the naive variant has no ${a.epilogue} epilogue`);
    l.dispatch({ name: 'gemm_naive', source: naiveSource }, {}, buffers, [...params, ['u32', a.epilogue === 'residual' ? 1 : 0]], [Math.ceil(a.N / 64), ...grid(a.M)], work);
    return;
  }
  if (variant === 'v1') {
    if (a.M > 64 * MAX_GRID) throw new Error(`gemm: ${a.M} rows exceed the grid`);
    l.dispatch({ name: 'gemm_v1', source: activationSource + v1Source }, { EPILOGUE: EPILOGUE[a.epilogue], ACTIVATION: ACTIVATION[a.activation ?? 'gelu'] }, buffers, params, [Math.ceil(a.N / 64), Math.ceil(a.M / 64)], work);
    return;
  }
  if (a.K % 4 !== 0) throw new Error(`gemm v2: K = ${a.K} is not a multiple of 4 (its vec4 loads need it); use v1`);
  // Planning (no device) dispatches nothing; WebGPU's default limits stand in for the device's.
  const limit = l.ctx?.device.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const tile = a.tile ?? tunedGemmTile(l.ctx?.tuning, { ...a, dtypes }) ?? defaultTile(a, limit);
  validateTile(tile, l.ctx?.device.limits.maxComputeInvocationsPerWorkgroup ?? 256);
  if (workgroupBytes(tile, a.epilogue) > limit) throw new Error(`gemm v2: tile ${tileName(tile)} needs ${workgroupBytes(tile, a.epilogue)} bytes of workgroup memory; this device allows ${limit}`);
  const [BM, BN] = [tile.WG_M * tile.TM, tile.WG_N * 4];
  if (Math.ceil(a.M / BM) > MAX_GRID) throw new Error(`gemm: ${a.M} rows exceed the grid`);
  const accessorsSource = accessors({ name: 'x', dtype: dtypes.x, width: 4 }, { name: 'W', dtype: dtypes.W, width: 4 }) + columnStore('y', dtypes.y);
  const name = `gemm_v2_x${dtypes.x}_w${dtypes.W}_y${dtypes.y}`;
  l.dispatch({ name, source: accessorsSource + activationSource + v2Source }, { EPILOGUE: EPILOGUE[a.epilogue], ACTIVATION: ACTIVATION[a.activation ?? 'gelu'], WG_M: tile.WG_M, WG_N: tile.WG_N, TM: tile.TM, TK: tile.TK }, buffers, params, [Math.ceil(a.N / BN), Math.ceil(a.M / BM)], work);
}

/**
 * The large tile when its grid has enough workgroups to fill a big GPU, else the small one; TK halves where
 * the tile would not fit the device's workgroup memory (the large GLU tile needs 17,152 bytes at TK 16).
 */
export function defaultTile(s: Pick<GemmShape, 'M' | 'N' | 'epilogue'>, workgroupStorageBytes = 16384): GemmTile {
  const large = Math.ceil(s.M / (LARGE_TILE.WG_M * LARGE_TILE.TM)) * Math.ceil(s.N / (LARGE_TILE.WG_N * 4));
  let tile = large >= LARGE_TILE_MIN_WORKGROUPS ? LARGE_TILE : SMALL_TILE;
  while (workgroupBytes(tile, s.epilogue) > workgroupStorageBytes && tile.TK > 4) tile = { ...tile, TK: tile.TK / 2 };
  return tile;
}

/** Workgroup memory of a v2 tile, as the header of gemm_v2.wgsl computes it. */
export function workgroupBytes(t: GemmTile, epilogue: Epilogue): number {
  const xs = t.TK * ((t.WG_M * t.TM) / 4 + 1) * 16;
  const ws = t.TK * (t.WG_N + 1) * 16;
  return xs + ws * (epilogue === 'glu' ? 2 : 1);
}

export function tileName(t: GemmTile): string {
  return `${t.WG_M}x${t.WG_N}/tm${t.TM}/tk${t.TK}`;
}

function validateTile(t: GemmTile, maxThreads: number): void {
  if (t.TM !== 4 && t.TM !== 8) throw new Error(`gemm v2: TM = ${t.TM} must be 4 or 8`);
  if (!(t.TK >= 4 && t.TK % 4 === 0)) throw new Error(`gemm v2: TK = ${t.TK} must be a positive multiple of 4`);
  if (!(t.WG_M >= 1 && t.WG_N >= 1 && t.WG_M * t.WG_N <= maxThreads)) throw new Error(`gemm v2: ${t.WG_M} x ${t.WG_N} threads: this device allows ${maxThreads} per workgroup`);
}

export function flops(s: GemmShape): number {
  return 2 * s.M * s.N * s.K * (s.epilogue === 'glu' ? 2 : 1);
}

/** Compulsory traffic: x and W read once, y written once (and the f32 residual read). */
export function bytes(s: GemmShape): number {
  const d = s.dtypes ?? F32;
  const wRows = s.epilogue === 'glu' ? 2 * s.N : s.N;
  return s.M * s.K * bytesOf(d.x) + wRows * s.K * bytesOf(d.W) + s.M * s.N * bytesOf(d.y) + (s.epilogue === 'residual' ? 4 * s.M * s.N : 0);
}
