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
 * each of 8, 16 or 32). `emulated` runs the matrix operations in plain WGSL (sgmat_emulated.wgsl): for tests
 * where the adapter has no subgroup matrices; otherwise the adapter must list the configuration.
 */
export interface SgmatTile {
  kernel: 'sgmat';
  SM: number;
  SN: number;
  SK: number;
  emulated?: boolean;
}

export type AnyGemmTile = GemmTile | SgmatTile;

/** Flash attention v2's tiles: BR queries a workgroup (one thread each), keys staged BC at a time. */
export interface AttentionTiles {
  BR: number;
  BC: number;
}
