// Launchers for varlen attention: flash_attention_v2.wgsl (the default: vec4 registers, K/V tiles shared by a
// 64-query workgroup), flash_attention_sgmat.wgsl ("flash_sgmat": QK^T and PV on subgroup matrices, emulated
// where the device has none; its source in flash_attention_sgmat.ts), flash_attention.wgsl ("flash_v1", the
// baseline v2 is compared with, and the kernel for head dims v2 does not take), and attention_materialized.wgsl
// (the baseline that stores every score row).
import flashV1Source from './flash_attention.wgsl';
import flashV2Source from './flash_attention_v2.wgsl';
import keysSource from './flash_keys.wgsl';
import materializedSource from './attention_materialized.wgsl';
import { type Kernel, type Launcher, MAX_GRID, type Param } from './launch.ts';
import { fittingFlashSgmatTile, flashSgmatKernel, flashSgmatTile } from './flash_attention_sgmat.ts';
import { EMULATED_SUBGROUP } from './gemm_sgmat.ts';
import { matrixShape, preferredMatrixShape } from './gemm.ts';
import { type DType, accessors, bytesOf } from './storage.ts';
import type { AttentionTiles } from './tiles.ts';

export type Window = readonly [left: number, right: number];

export interface AttentionShape {
  /** rows of each sequence (its real length; in padded execution, the padded length) */
  lengths: readonly number[];
  H: number;
  D: number;
  window: Window;
  /** storage of qkv and out (default f32; f16 needs flash_v2) */
  dtype?: DType;
}

export interface AttentionArgs extends AttentionShape {
  qkv: GPUBuffer;
  cuSeqlens: GPUBuffer;
  /** padded execution (flash-attention's seqused_k): keys per sequence [B]; rows past them are pads */
  sequsedK?: GPUBuffer;
  out: GPUBuffer;
  maxSeqlen: number;
  /** 'flash' (the model's name for it) and undefined mean the default, 'flash_v2' */
  variant?: 'flash' | 'flash_v2' | 'flash_sgmat' | 'flash_v1' | 'materialized';
  /** v2 only: queries per workgroup (= threads) and keys per tile (default: flashV2Tiles; the model passes its tuned choice) */
  tiles?: AttentionTiles;
}

export const MAX_HEAD_DIM = 128;

/** Queries per v2 workgroup (= its threads: two 32-lane warps share every K/V tile). */
export const FLASH_V2_BR = 64;
/** Keys per v2 K/V tile where the device's workgroup memory allows it. */
export const FLASH_V2_BC = 32;

/** Head dims v2 takes (vec4 rows, private arrays of D/4 vec4s); v1 runs the others (D <= MAX_HEAD_DIM). */
export function flashV2Supports(D: number): boolean {
  return Number.isInteger(D) && D >= 4 && D % 4 === 0 && D <= MAX_HEAD_DIM;
}

/** Whether flash_sgmat runs head dim D on an adapter with these subgroup-matrix configurations and workgroup memory. */
export function flashSgmatFits(D: number, configs: readonly { M: number; N: number; K: number }[], workgroupBytes: number): boolean {
  return flashV2Supports(D) && fittingFlashSgmatTile(preferredMatrixShape(configs), D, workgroupBytes) !== null;
}

/**
 * v2's tile sizes on a device granting `workgroupStorageBytes` of workgroup memory: the K and V tiles take
 * 2 * BC * D * 4 bytes, so BC = 32 fits WebGPU's default 16 KiB up to D = 64 and needs 32 KiB at D = 128;
 * where the device grants less, BC shrinks (a multiple of 4, the keys one score vec4 holds).
 */
export function flashV2Tiles(D: number, workgroupStorageBytes: number): AttentionTiles {
  const fits = Math.floor(workgroupStorageBytes / (2 * D * 4) / 4) * 4;
  const BC = Math.min(FLASH_V2_BC, fits);
  if (BC < 4) throw new Error(`flash attention v2: ${workgroupStorageBytes} bytes of workgroup memory cannot hold a 4-key tile at D = ${D}`);
  return { BR: FLASH_V2_BR, BC };
}

function validateTiles({ BR, BC }: AttentionTiles, D: number, limits: { workgroupBytes: number; threads: number }): void {
  if (!(Number.isInteger(BR) && BR >= 1 && BR <= limits.threads)) throw new Error(`flash attention v2: BR = ${BR} queries (threads) per workgroup; this device allows 1 to ${limits.threads}`);
  if (!(Number.isInteger(BC) && BC >= 4 && BC % 4 === 0)) throw new Error(`flash attention v2: BC = ${BC} must be a positive multiple of 4`);
  if (2 * BC * D * 4 > limits.workgroupBytes) throw new Error(`flash attention v2: BC = ${BC} at D = ${D} needs ${2 * BC * D * 4} bytes of workgroup memory; this device allows ${limits.workgroupBytes}`);
}

/**
 * The key tiles each v2 workgroup visits: per sequence, per query tile (BR queries), the count of BC-key tiles
 * from kLo to kHi, computed as the shader computes them (the keys the windows of queries [q0, qLast] reach,
 * clamped to the sequence's keys). `keys` are the keys per sequence in padded execution (sequsedK).
 * A local layer [left, right] visits at most ceil((BR + left + right) / BC) tiles.
 */
export function keyTilesVisited(lengths: readonly number[], [left, right]: Window, BR: number, BC: number, keys?: readonly number[]): number[][] {
  return lengths.map((n, b) => {
    const nk = keys ? Math.min(keys[b], n) : n;
    return Array.from({ length: Math.ceil(n / BR) }, (_, x) => {
      const q0 = x * BR;
      const qLast = Math.min(q0 + BR, n) - 1;
      const kLo = left >= 0 ? Math.max(0, q0 - left) : 0;
      const kHi = right >= 0 ? Math.min(nk - 1, qLast + right) : nk - 1;
      return kHi < kLo ? 0 : Math.ceil((kHi - kLo + 1) / BC);
    });
  });
}

// One v2 shader per head dim and dtype: D sizes private arrays, so it is a `const` written into the source, and
// the kernel's name carries it so the launcher's pipeline cache keeps one pipeline per D.
const flashV2Kernels = new Map<string, Kernel>();
function flashV2Kernel(D: number, dtype: DType): Kernel {
  const name = `flash_attention_v2_d${D}${dtype === 'f16' ? '_f16' : ''}`;
  let kernel = flashV2Kernels.get(name);
  if (!kernel) {
    const declaration = /^const D: u32 = \d+u;/m;
    if (!declaration.test(flashV2Source)) throw new Error('flash_attention_v2.wgsl: the `const D: u32 = <n>u;` line is missing');
    const access = accessors({ name: 'qkv', dtype, width: 4 }, { name: 'out', dtype, width: 4, write: true });
    kernel = { name, source: access + keysSource + flashV2Source.replace(declaration, `const D: u32 = ${D}u;`) };
    flashV2Kernels.set(name, kernel);
  }
  return kernel;
}

export function run(l: Launcher, a: AttentionArgs): void {
  dispatchAttention(l, a, false);
}

/**
 * Debug: runs v2 with its COUNT_TILES override, so thread 0 of each workgroup (query tile x, head h, sequence b)
 * overwrites out[cuSeqlens[b] + x * BR, h, 0] with the number of key tiles it visited (as f32); every other
 * output is v2's usual result. Throws where v2 would not run (a head dim it does not take).
 */
export function runCountingKeyTiles(l: Launcher, a: AttentionArgs): AttentionTiles {
  if (!flashV2Supports(a.D)) throw new Error(`flash attention v2: head dim ${a.D} is not supported`);
  return dispatchAttention(l, { ...a, variant: a.variant === 'flash_sgmat' ? 'flash_sgmat' : 'flash_v2' }, true)!;
}

function dispatchAttention(l: Launcher, a: AttentionArgs, countTiles: boolean): AttentionTiles | undefined {
  const B = a.lengths.length;
  const T = a.lengths.reduce((s, n) => s + n, 0);
  const scale = 1 / Math.sqrt(a.D);
  const sequsedK = a.sequsedK ?? l.absent.sequsedK;
  const useSeqused = a.sequsedK ? 1 : 0;
  const work = { flops: flops(a), bytes: bytes(a) };
  const dtype = a.dtype ?? 'f32';
  const v2 = a.variant !== 'materialized' && a.variant !== 'flash_v1' && flashV2Supports(a.D);
  if (dtype === 'f16' && !v2) throw new Error(`attention: f16 storage needs flash_v2 or flash_sgmat (${a.variant === 'materialized' || a.variant === 'flash_v1' ? a.variant : `head dim ${a.D} runs flash_v1`}, which reads f32 only)`);
  if (a.variant === 'materialized') {
    const scores = l.pool.storage(a.H * T * a.maxSeqlen * 4, 'attention.scores');
    l.dispatch(
      { name: 'attention_materialized', source: materializedSource },
      {},
      [a.qkv, a.cuSeqlens, sequsedK, scores, a.out],
      [['u32', T], ['u32', B], ['u32', a.H], ['u32', a.D], ['u32', a.maxSeqlen], ['i32', a.window[0]], ['i32', a.window[1]], ['f32', scale], ['u32', useSeqused]],
      [Math.ceil(T / 64), a.H],
      work,
    );
    l.pool.release(scores);
    return undefined;
  }
  if (a.D > MAX_HEAD_DIM) throw new Error(`flash attention: head dim ${a.D} exceeds ${MAX_HEAD_DIM}`);
  if (B > MAX_GRID) throw new Error(`flash attention: ${B} sequences exceed the grid (${MAX_GRID})`);
  const params: Param[] = [['u32', B], ['u32', a.H], ['i32', a.window[0]], ['i32', a.window[1]], ['f32', scale], ['u32', useSeqused]];
  if (a.variant === 'flash_sgmat') {
    if (!flashV2Supports(a.D)) throw new Error(`flash attention sgmat: head dim ${a.D} must be a multiple of 4 (its rows load 4 values), at most ${MAX_HEAD_DIM}`);
    const shape = matrixShape(l);
    const workgroupBytes = l.ctx?.device.limits.maxComputeWorkgroupStorageSize ?? 16384;
    const tile = flashSgmatTile(shape, a.D, workgroupBytes);
    const threads = 4 * (shape.emulated ? EMULATED_SUBGROUP : l.ctx!.subgroupMatrix!.subgroupMaxSize);
    l.dispatch(flashSgmatKernel(tile, a.D, threads, dtype), countTiles ? { COUNT_TILES: 1 } : {}, [a.qkv, a.cuSeqlens, sequsedK, a.out], params, [Math.ceil(a.maxSeqlen / tile.BR), a.H, B], work);
    return { BR: tile.BR, BC: tile.BC };
  }
  // v2 needs D % 4 == 0 (vec4 rows): other head dims (and an explicit 'flash_v1') run v1.
  if (a.variant === 'flash_v1' || !flashV2Supports(a.D)) {
    l.dispatch({ name: 'flash_attention', source: flashV1Source }, { D: a.D }, [a.qkv, a.cuSeqlens, sequsedK, a.out], params, [Math.ceil(a.maxSeqlen / 32), a.H, B], work);
    return undefined;
  }
  // Planning (no device) dispatches nothing; WebGPU's default limits stand in for the device's.
  const limits = { workgroupBytes: l.ctx?.device.limits.maxComputeWorkgroupStorageSize ?? 16384, threads: l.ctx?.device.limits.maxComputeInvocationsPerWorkgroup ?? 256 };
  const tiles = a.tiles ?? flashV2Tiles(a.D, limits.workgroupBytes);
  validateTiles(tiles, a.D, limits);
  const constants: Record<string, number> = { BR: tiles.BR, BC: tiles.BC };
  if (countTiles) constants.COUNT_TILES = 1;
  l.dispatch(flashV2Kernel(a.D, dtype), constants, [a.qkv, a.cuSeqlens, sequsedK, a.out], params, [Math.ceil(a.maxSeqlen / tiles.BR), a.H, B], work);
  return tiles;
}

/** Keys each query of an n-token sequence sees, summed over the sequence. */
function visiblePairs(n: number, [left, right]: Window): number {
  let pairs = 0;
  for (let i = 0; i < n; i++) pairs += Math.min(n - 1, right < 0 ? n - 1 : i + right) - Math.max(0, left < 0 ? 0 : i - left) + 1;
  return pairs;
}

/** Useful work: q·k and p·v for every visible (query, key) pair, every head. */
export function flops(s: AttentionShape): number {
  return s.lengths.reduce((sum, n) => sum + 4 * visiblePairs(n, s.window) * s.H * s.D, 0);
}

/** Compulsory traffic: q, k, v read once, out written once. */
export function bytes(s: AttentionShape): number {
  const T = s.lengths.reduce((a, b) => a + b, 0);
  return 4 * T * s.H * s.D * bytesOf(s.dtype ?? 'f32');
}
