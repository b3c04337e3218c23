// GEMM v3: y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]), with the epilogues of gemm_v2.wgsl:
//   EPILOGUE 0: nothing   1: + residual[M, N]   2: act(y)   3: GLU, W is [2N, K]: act(x·W[n] + b[n]) * (x·W[N + n] + b[N + n])
// What changed from v2 (whose first GPU run measured 2.3 TFLOP/s on an H200, 3% of fp32 peak):
// - 2D register tiles: each thread computes TM rows by TN columns (TN 4 or 8: one or two vec4 of columns, the
//   second WG_N * 4 columns further on, so a warp's ws reads stay neighbouring vec4).
// - Register prefetch: the next K step's tile is read from global memory into registers before this step's
//   arithmetic, so the loads are in flight while the FMAs run; they are stored to shared memory after it.
// - The tile transposes in registers: a thread reads the same vec4 of K from 4 neighbouring rows and stores 4
//   whole vec4 (one per k), where v2 stored single floats into vec4 components.
// - Every register is written out by the launcher (gemm.ts, withRegisterTile) at this file's `@registers`,
//   `@prefetch(k)`, `@stage`, `@multiply` and `@finish` comment lines: one vec4 variable per 4 outputs
//   (acc_<row>_<column vec4>, gacc_ for the GLU gate) and per loaded vec4, and straight-line code that moves and
//   multiplies them; no private array, so keeping them in registers does not depend on the driver unrolling
//   loops. (On the H200, v2 ran at ~2.3 TFLOP/s for every tile shape while flash attention v2 ran at 14-17:
//   v2's accumulators are a private array indexed in loops, which a driver that does not unroll them keeps in
//   local memory; this is the suspect, not yet measured.) The tile and the epilogue are `const`s written in
//   front of this file, like flash attention v2's D.
// Layouts, dtypes and bindings are v2's: x and W are K-contiguous (read 4 values a load through the storage
// accessors), bias and residual are f32 (read by gemm_epilogue.wgsl's bias4 and residual4, prepended), all
// arithmetic is f32, each output sums over k in order.
// Bindings: 0 x, 1 W, 2 bias, 3 residual, 4 y, 5 params (uniform). x_at and W_at (the operands, zeros past the
// matrix) are gemm_operands.wgsl's, appended by the launcher.
// Split-K as in gemm_v2.wgsl (PARTIAL 1: workgroup z sums the vec4s of K from z * kSlice4 to (z + 1) * kSlice4,
// raw, into the f32 workspace).
// Written in front by the launcher (gemm.ts), as `const NAME: u32 = <n>u;`: EPILOGUE; PARTIAL; WG_M x WG_N threads; TM (4
// or 8) rows and TN (4 or 8) columns per thread; K in steps of TK (a multiple of 4). ACTIVATION stays an override.
// Workgroup memory: TK * (BM/4 + 1) * 16 + TK * (BN/4 + 1) * 16 bytes (+ the second, GLU).
struct Params { M: u32, N: u32, K: u32, hasBias: u32, kSlice4: u32 }

const THREADS: u32 = WG_M * WG_N;
const BM: u32 = WG_M * TM;
const BN: u32 = WG_N * TN;
const TK4: u32 = TK / 4u;
const XS_STRIDE: u32 = BM / 4u + 1u; // vec4 per k-row, padded by one
const WS_STRIDE: u32 = BN / 4u + 1u;
// Each load group is 4 rows by one vec4 of K; the groups of a tile, spread over the threads (group e of a tile:
// rows 4 (e / TK4) .. + 3, vec4 column e % TK4; thread tid loads groups tid, tid + THREADS, ...).
const X_GROUPS: u32 = (BM / 4u) * TK4;
const W_GROUPS: u32 = (BN / 4u) * TK4;
const GS_SIZE: u32 = select(1u, TK * WS_STRIDE, EPILOGUE == 3u);

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> W: array<W_t>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<y_t>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> xs: array<vec4f, TK * XS_STRIDE>; // [TK][BM / 4]: xs[k][r4] holds rows 4 r4 .. 4 r4 + 3
var<workgroup> ws: array<vec4f, TK * WS_STRIDE>; // [TK][BN / 4]
var<workgroup> gs: array<vec4f, GS_SIZE>; // [TK][BN / 4], the gate rows (GLU)

// One register of the tile (outputs m, n .. n + 3): split-K's raw sums, else the finished outputs; nothing
// outside the matrix.
fn write_out(sums: vec4f, gate_sums: vec4f, m: u32, n: u32, slice: u32) {
  if (m >= p.M || n >= p.N) {
    return;
  }
  let columns = min(4u, p.N - n);
  if (PARTIAL == 1u) {
    store_partial(sums, gate_sums, slice, m, n, columns);
  } else {
    finish4(sums, gate_sums, m, n, columns);
  }
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  let tid = lid.y * WG_N + lid.x;
  let kBegin = wg.z * p.kSlice4;
  let kEnd = min(p.K / 4u, kBegin + p.kSlice4);
  // @registers

  // The first K step's tile, into registers.
  // @prefetch(kBegin)

  for (var k0 = kBegin; k0 < kEnd; k0 += TK4) {
    // Registers to shared memory, transposed to k-major.
    // @stage
    workgroupBarrier();

    // The next K step's tile, into registers, while this one is multiplied.
    let next = k0 + TK4;
    if (next < kEnd) {
      // @prefetch(next)
    }

    // This thread's TM rows (a<r4>, 4 rows each) times its TN columns (w<j>, the second vec4 WG_N * 4 columns on).
    for (var kk = 0u; kk < TK; kk++) {
      // @multiply
    }
    workgroupBarrier();
  }

  // @finish
}
