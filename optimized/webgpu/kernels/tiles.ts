// The shapes kernels are tiled by, and their limits: what a tuning choice names (tuning.ts validates a cache
// against these) and the launchers take. A leaf: it imports nothing, so the tuning layer and the kernels can
// both read it without either depending on the other.

/** none; + residual; act(y); GLU: act(first half) * second half of a 2N-row W (GeGLU when act is gelu). */
export type Epilogue = 'none' | 'residual' | 'activation' | 'glu';

/**
 * A tile of GEMM v2, v3 or v4: WG_M x WG_N threads, each TM rows x TN columns (v2: 4); the workgroup covers
 * (WG_M * TM) x (WG_N * TN) outputs, K in steps of TK.
 */
export interface GemmTile {
  /** the kernel (default v2) */
  kernel?: 'v2' | 'v3' | 'v4';
  WG_M: number;
  WG_N: number;
  TM: 4 | 8;
  /** v3 and v4: 4 or 8 (default 4) */
  TN?: 4 | 8;
  TK: number;
  /**
   * Split-K: K cut into this many slices (1 to MAX_SPLIT_K, default 1; fewer where K has fewer TK steps), each
   * summed by its own workgroups, for grids too small to fill the GPU; costs a workspace of slices x M x N f32
   * (2N for GLU) and a second dispatch that adds the slices and applies the bias and epilogue.
   */
  splitK?: number;
}

export const MAX_SPLIT_K = 16;

/**
 * The subgroup-matrix GEMM's shape: one f16 x f16 -> f32 configuration of the adapter (M x N outputs, K deep;
 * each of 8, 16 or 32), and the workgroup's tile: BM rows of x by BW rows of W (the outputs' columns; with GLU,
 * half of them value rows and half gate rows), K in steps of TK. `emulated` runs the matrix operations in plain
 * WGSL (sgmat_emulated.wgsl): for tests where the adapter has no subgroup matrices; otherwise the adapter must
 * list the configuration.
 */
export interface SgmatTile {
  kernel: 'sgmat';
  SM: number;
  SN: number;
  SK: number;
  /** rows of x a workgroup: 64 or 128 (default: 128 where the grid fills the GPU, else 64) */
  BM?: 64 | 128;
  /** rows of W a workgroup: 64 or 128 (default 128) */
  BW?: 64 | 128;
  /** K a step: 16 or 32, at least SK (default 32; emulated 16) */
  TK?: 16 | 32;
  emulated?: boolean;
}

export type AnyGemmTile = GemmTile | SgmatTile;

/** The GEMM kernels a user can force for every GEMM of a model (`--gemm`, loadModel's `gemm`). */
export const GEMM_CHOICES = ['v2', 'v3', 'v4', 'sgmat'] as const;
export type GemmChoice = (typeof GEMM_CHOICES)[number];
/** The attention kernels a user can force for every layer (`--attention`, loadModel's `attention`). */
export const ATTENTION_CHOICES = ['flash_v2', 'flash_sgmat'] as const;
export type AttentionChoice = (typeof ATTENTION_CHOICES)[number];

/** The kernels forced for a whole model; each absent one is the tuned or default kernel. */
export interface KernelChoice {
  gemm?: GemmChoice;
  attention?: AttentionChoice;
}

/** Why a kernel choice cannot run with this storage dtype (or is no choice at all), or null. */
export function kernelChoiceProblem(k: KernelChoice, dtype: string): string | null {
  if (k.gemm !== undefined && !GEMM_CHOICES.includes(k.gemm)) return `gemm must be one of ${GEMM_CHOICES.join(', ')}, got "${k.gemm}"`;
  if (k.attention !== undefined && !ATTENTION_CHOICES.includes(k.attention)) return `attention must be one of ${ATTENTION_CHOICES.join(', ')}, got "${k.attention}"`;
  // the subgroup-matrix kernels multiply halves: their tolerances are f16 storage's
  for (const [what, choice] of [['gemm', k.gemm], ['attention', k.attention]] as const) {
    if (choice?.endsWith('sgmat') && dtype !== 'f16') return `${what} ${choice} multiplies halves (f16 x f16 -> f32): it needs dtype f16`;
  }
  return null;
}

/**
 * A tile with its defaults filled in: 128 x 128, K 32 a step (emulated 16: SwiftShader ran out of 24 GiB compiling
 * the emulated 128 x 128 tile at 32).
 */
export function sgmatTileShape(t: SgmatTile): Required<Pick<SgmatTile, 'BM' | 'BW' | 'TK'>> {
  return { BM: t.BM ?? 128, BW: t.BW ?? 128, TK: t.TK ?? (t.emulated ? 16 : 32) };
}

/** Why the tile cannot be built, or null: the matrix sides, the tile against the matrices, the epilogue. */
export function sgmatTileProblem(t: SgmatTile, glu: boolean): string | null {
  const { BM, BW, TK } = sgmatTileShape(t);
  for (const [name, v] of Object.entries({ M: t.SM, N: t.SN, K: t.SK })) if (![8, 16, 32].includes(v)) return `${name} = ${v} must be 8, 16 or 32`;
  if (![64, 128].includes(BM) || ![64, 128].includes(BW)) return `BM = ${BM} and BW = ${BW} must be 64 or 128`;
  if (![16, 32].includes(TK) || TK < t.SK) return `TK = ${TK} must be 16 or 32, and at least SK = ${t.SK}`;
  // each subgroup's quarter is whole matrices: BM/2 rows, BW/2 columns (GLU: BW/4 value and BW/4 gate columns)
  if ((BM / 2) % t.SM || (BW / (glu ? 4 : 2)) % t.SN) return `a subgroup's ${BM / 2} x ${BW / (glu ? 4 : 2)} outputs are not whole ${t.SM} x ${t.SN} matrices`;
  return null;
}

/** Flash attention v2's tiles: BR queries a workgroup (one thread each), keys staged BC at a time. */
export interface AttentionTiles {
  BR: number;
  BC: number;
}
