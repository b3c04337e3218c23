// Launcher for the GEMMs: gemm_v3.wgsl (2D register tiles of TM x TN outputs, register prefetch; its tile
// written into the source as consts), gemm_v2.wgsl (vec4, register tiles of TM x 4 outputs; its tile as
// override constants), gemm_v1.wgsl (the first tiled kernel) and gemm_naive.wgsl (one thread per output).
import activationSource from './activation.wgsl';
import epilogueSource from './gemm_epilogue.wgsl';
import naiveSource from './gemm_naive.wgsl';
import v1Source from './gemm_v1.wgsl';
import v2Source from './gemm_v2.wgsl';
import v3Source from './gemm_v3.wgsl';
import { type Kernel, type Launcher, MAX_GRID, grid } from './launch.ts';
import { type DType, accessors, bytesOf, columnStore } from './storage.ts';
import type { Activation } from '../../../reference/config.ts';
import { tunedGemmTile } from '../tuning.ts';

/** none; + residual; act(y); GLU: act(first half) * second half of a 2N-row W (GeGLU when act is gelu). */
export type Epilogue = 'none' | 'residual' | 'activation' | 'glu';
const EPILOGUE: Record<Epilogue, number> = { none: 0, residual: 1, activation: 2, glu: 3 };
const ACTIVATION: Record<Activation, number> = { gelu: 0, gelu_tanh: 1, silu: 2, relu: 3 };

export type GemmVariant = 'v3' | 'v2' | 'v1' | 'naive';

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
  /** storage of x, W and y (default f32; f16 needs v2 or v3, and N even for an f16 y); bias and residual are f32 */
  dtypes?: { x: DType; W: DType; y: DType };
}

/**
 * A tile of v2 or v3: WG_M x WG_N threads, each TM rows x TN columns (v2: 4); the workgroup covers
 * (WG_M * TM) x (WG_N * TN) outputs, K in steps of TK.
 */
export interface GemmTile {
  /** the kernel (default v2) */
  kernel?: 'v2' | 'v3';
  WG_M: number;
  WG_N: number;
  TM: 4 | 8;
  /** v3 only: 4 or 8 (default 4) */
  TN?: 4 | 8;
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
  /** default: the tile's kernel (v1 when K % 4 != 0, which the vec4 loads of v2 and v3 cannot read) */
  variant?: GemmVariant;
  /** v2 and v3: the tile (default: the device's tuned choice for this shape, else defaultTile(shape)); a tile of
   *  the other kernel than an explicit variant is replaced by that variant's default tile */
  tile?: GemmTile;
}

export function run(l: Launcher, a: GemmArgs): void {
  const buffers = [a.x, a.W, a.bias ?? l.absent.bias, a.residual ?? l.absent.residual, a.y];
  const work = { flops: flops(a), bytes: bytes(a) };
  if (a.epilogue === 'residual' && !a.residual) throw new Error('gemm: the residual epilogue needs a residual buffer');
  const dtypes = a.dtypes ?? F32;
  const limit = workgroupLimit(l);
  const tile = tileFor(l, a, a.variant === 'v2' || a.variant === 'v3' ? a.variant : undefined, a.tile);
  const variant = a.variant ?? (a.K % 4 === 0 ? (tile.kernel ?? 'v2') : 'v1');
  const f16 = Object.values(dtypes).includes('f16');
  if (f16 && variant !== 'v2' && variant !== 'v3') throw new Error(`gemm: f16 storage needs v2 or v3 (${variant} reads f32 only${a.K % 4 ? `; K = ${a.K} is not a multiple of 4` : ''})`);
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
  if (a.K % 4 !== 0) throw new Error(`gemm ${variant}: K = ${a.K} is not a multiple of 4 (its vec4 loads need it); use v1`);
  validateTile(tile, l.ctx?.device.limits.maxComputeInvocationsPerWorkgroup ?? 256);
  if (workgroupBytes(tile, a.epilogue) > limit) throw new Error(`gemm ${variant}: tile ${tileName(tile)} needs ${workgroupBytes(tile, a.epilogue)} bytes of workgroup memory; this device allows ${limit}`);
  const [BM, BN] = [tile.WG_M * tile.TM, tile.WG_N * (tile.TN ?? 4)];
  if (Math.ceil(a.M / BM) > MAX_GRID) throw new Error(`gemm: ${a.M} rows exceed the grid`);
  const grid2d: [number, number] = [Math.ceil(a.N / BN), Math.ceil(a.M / BM)];
  const activation = ACTIVATION[a.activation ?? 'gelu'];
  if (variant === 'v3') {
    l.dispatch(v3Kernel(tile, a.epilogue, dtypes), { ACTIVATION: activation }, buffers, params, grid2d, work);
    return;
  }
  const name = `gemm_v2_x${dtypes.x}_w${dtypes.W}_y${dtypes.y}`;
  l.dispatch({ name, source: storageSource(dtypes) + activationSource + epilogueSource + v2Source }, { EPILOGUE: EPILOGUE[a.epilogue], ACTIVATION: activation, WG_M: tile.WG_M, WG_N: tile.WG_N, TM: tile.TM, TK: tile.TK }, buffers, params, grid2d, work);
}

function storageSource(d: { x: DType; W: DType; y: DType }): string {
  return accessors({ name: 'x', dtype: d.x, width: 4 }, { name: 'W', dtype: d.W, width: 4 }) + columnStore('y', d.y);
}

// One v3 shader per tile, epilogue and dtypes: they are `const`s written in front of the source (see
// gemm_v3.wgsl), and the name carries them so the launcher's pipeline cache keeps one pipeline for each.
const v3Kernels = new Map<string, Kernel>();
function v3Kernel(t: GemmTile, epilogue: Epilogue, d: { x: DType; W: DType; y: DType }): Kernel {
  const consts = { EPILOGUE: EPILOGUE[epilogue], WG_M: t.WG_M, WG_N: t.WG_N, TM: t.TM, TN: t.TN ?? 4, TK: t.TK };
  const name = `gemm_v3_x${d.x}_w${d.W}_y${d.y}_${epilogue}_${t.WG_M}x${t.WG_N}_tm${consts.TM}_tn${consts.TN}_tk${t.TK}`;
  let kernel = v3Kernels.get(name);
  if (!kernel) {
    const header = Object.entries(consts).map(([k, v]) => `const ${k}: u32 = ${v}u;\n`).join('');
    kernel = { name, source: storageSource(d) + activationSource + epilogueSource + header + v3Source };
    v3Kernels.set(name, kernel);
  }
  return kernel;
}

// Planning (no device) dispatches nothing; WebGPU's default limits stand in for the device's.
function workgroupLimit(l: Launcher): number {
  return l.ctx?.device.limits.maxComputeWorkgroupStorageSize ?? 16384;
}

/**
 * The tile run() uses for a shape: the explicit one, else the device's tuned choice, else defaultTile; where a
 * kernel is asked for and the tile is the other kernel's, that kernel's default tile.
 */
export function tileFor(l: Launcher, s: GemmShape, kernel?: 'v2' | 'v3', explicit?: GemmTile): GemmTile {
  const tile = explicit ?? tunedGemmTile(l.ctx?.tuning, { ...s, dtypes: s.dtypes ?? F32 }) ?? defaultTile(s, workgroupLimit(l));
  return kernel && (tile.kernel ?? 'v2') !== kernel ? defaultTile(s, workgroupLimit(l), kernel) : tile;
}

/**
 * The large tile when its grid has enough workgroups to fill a big GPU, else the small one; TK halves where
 * the tile would not fit the device's workgroup memory (the large GLU tile needs 17,152 bytes at TK 16).
 */
export function defaultTile(s: Pick<GemmShape, 'M' | 'N' | 'epilogue'>, workgroupStorageBytes = 16384, kernel: 'v2' | 'v3' = 'v2'): GemmTile {
  const large = Math.ceil(s.M / (LARGE_TILE.WG_M * LARGE_TILE.TM)) * Math.ceil(s.N / (LARGE_TILE.WG_N * 4));
  let tile = large >= LARGE_TILE_MIN_WORKGROUPS ? LARGE_TILE : SMALL_TILE;
  if (kernel === 'v3') tile = { ...tile, kernel };
  while (workgroupBytes(tile, s.epilogue) > workgroupStorageBytes && tile.TK > 4) tile = { ...tile, TK: tile.TK / 2 };
  return tile;
}

/** Workgroup memory of a tile, as the headers of gemm_v2.wgsl and gemm_v3.wgsl compute it. */
export function workgroupBytes(t: GemmTile, epilogue: Epilogue): number {
  const xs = t.TK * ((t.WG_M * t.TM) / 4 + 1) * 16;
  const ws = t.TK * ((t.WG_N * (t.TN ?? 4)) / 4 + 1) * 16;
  return xs + ws * (epilogue === 'glu' ? 2 : 1);
}

export function tileName(t: GemmTile): string {
  return t.kernel === 'v3' ? `v3 ${t.WG_M}x${t.WG_N}/tm${t.TM}/tn${t.TN ?? 4}/tk${t.TK}` : `${t.WG_M}x${t.WG_N}/tm${t.TM}/tk${t.TK}`;
}

function validateTile(t: GemmTile, maxThreads: number): void {
  const kernel = t.kernel ?? 'v2';
  if (t.TM !== 4 && t.TM !== 8) throw new Error(`gemm ${kernel}: TM = ${t.TM} must be 4 or 8`);
  if ((t.TN ?? 4) !== 4 && (kernel !== 'v3' || t.TN !== 8)) throw new Error(`gemm ${kernel}: TN = ${t.TN} must be 4${kernel === 'v3' ? ' or 8' : ' (v2 computes 4 columns a thread)'}`);
  if (!(t.TK >= 4 && t.TK % 4 === 0)) throw new Error(`gemm ${kernel}: TK = ${t.TK} must be a positive multiple of 4`);
  if (!(t.WG_M >= 1 && t.WG_N >= 1 && t.WG_M * t.WG_N <= maxThreads)) throw new Error(`gemm ${kernel}: ${t.WG_M} x ${t.WG_N} threads: this device allows ${maxThreads} per workgroup`);
  // v3 spreads each tile's loads over the threads in at most 4 rounds (MAX_LOADS in gemm_v3.wgsl).
  const groups = (t.WG_M * t.TM * t.TK) / 16;
  if (kernel === 'v3' && Math.max(groups, (t.WG_N * (t.TN ?? 4) * t.TK) / 16) > 4 * t.WG_M * t.WG_N) throw new Error(`gemm v3: tile ${tileName(t)} needs more than 4 loads a thread`);
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
