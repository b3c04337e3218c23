// GEMM v4: y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]), with the epilogues of gemm_v2.wgsl:
//   EPILOGUE 0: nothing   1: + residual[M, N]   2: act(y)   3: GLU, W is [2N, K]: act(x·W[n] + b[n]) * (x·W[N + n] + b[N + n])
// v3's design (2D register tiles as named vec4 variables, register prefetch; see gemm_v3.wgsl), and what a review
// of v3 found missing:
// - Double-buffered shared tiles, one barrier per K step: step s multiplies buffer s % 2 while the next step's
//   tile, prefetched into registers during the multiply, goes into the other buffer, which nobody reads in step s.
// - Load groups cover the tile exactly: the x, W (and gate) groups of a K step are numbered together and thread
//   tid loads groups tid, tid + THREADS, ... below their total (v3's prefetch also loaded rows past its tile).
// - Staging stores without bank conflicts: a store phase of 8 threads writes TK4 k-rows of 8 / TK4 group columns
//   (4 k-rows apart); the vec4 column of each k-row is XORed with a function of k (swizzle()), so the 8 stores hit
//   8 different 16-byte banks. The multiply reads with the same swizzle (one XOR: kk is the same for every thread).
// - GLU as a value tile and a gate tile of TM x TN each (default 8 x 4: 64 accumulators, as 8 x 8 without GLU).
// - The epilogue: the bias read once per column vec4, not once per row; where N % 4 == 0 the bias, residual and y
//   are read and written as whole vec4 (gemm_access_vec4.wgsl), else column by column (gemm_access.wgsl).
// Layouts, dtypes and bindings are v3's: x and W are K-contiguous (read 4 values a load through the storage
// accessors), bias and residual are f32, all arithmetic is f32, each output sums over k in order.
// Bindings: 0 x, 1 W, 2 bias, 3 residual, 4 y, 5 params (uniform). x_at and W_at (the operands, zeros past the
// matrix) are gemm_operands.wgsl's, appended by the launcher.
// Split-K as in gemm_v2.wgsl (PARTIAL 1: workgroup z sums the vec4s of K from z * kSlice4 to (z + 1) * kSlice4,
// raw, into the f32 workspace).
// Written in front by the launcher (gemm_v4.ts), as `const NAME: u32 = <n>u;`: EPILOGUE; PARTIAL; WG_M x WG_N
// threads; TM and TN (4 or 8) rows and columns per thread; K in steps of TK (a multiple of 4). BM and BN must be
// multiples of 32 (the swizzle stays within 8 vec4 of a k-row). ACTIVATION stays an override.
// Workgroup memory: 2 buffers x TK k-rows x (BM + BN (+ BN, GLU)) floats: 2 * TK * (BM + BN) * 4 bytes (128 x 128
// at TK 16: 32 KiB).
struct Params { M: u32, N: u32, K: u32, hasBias: u32, kSlice4: u32 }

const THREADS: u32 = WG_M * WG_N;
const BM: u32 = WG_M * TM;
const BN: u32 = WG_N * TN;
const TK4: u32 = TK / 4u;
const XS_STEP: u32 = TK * (BM / 4u); // one buffer: [TK][BM / 4] vec4, xs[k][c] holding rows 4 c .. 4 c + 3
const WS_STEP: u32 = TK * (BN / 4u);
// A load group is 4 rows by one vec4 of K: group g of x holds rows 4 (g / TK4) .. + 3 at vec4 column g % TK4 of
// the K step, and W's (the gate's) groups are numbered after x's (W's).
const X_GROUPS: u32 = (BM / 4u) * TK4;
const W_GROUPS: u32 = (BN / 4u) * TK4;
const GS_SIZE: u32 = select(1u, 2u * WS_STEP, EPILOGUE == 3u);
const SWIZZLE_STRIDE: u32 = max(1u, 8u / TK4);

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> W: array<W_t>;
@group(0) @binding(2) var<storage, read> bias: array<bias_t>;
@group(0) @binding(3) var<storage, read> residual: array<residual_t>;
@group(0) @binding(4) var<storage, read_write> y: array<y_t>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> xs: array<vec4f, 2u * XS_STEP>;
var<workgroup> ws: array<vec4f, 2u * WS_STEP>;
var<workgroup> gs: array<vec4f, GS_SIZE>; // the gate's tiles (GLU)

// Where k-row k keeps group column c: c with its low 3 bits XORed by the k-row's group of 4 (scaled so that the
// TK4 groups of a store phase get different values).
fn swizzle(c: u32, k: u32) -> u32 {
  return c ^ (((k / 4u) * SWIZZLE_STRIDE) & 7u);
}

// The bias of columns n .. n + 3 (at `offset`: N for the GLU gate), read once for all the rows of a thread; zero
// in split-K's first pass (raw sums), without a bias, and past N.
fn column_bias(n: u32, offset: u32) -> vec4f {
  if (PARTIAL == 1u || p.hasBias == 0u || n >= p.N) {
    return vec4f(0.0);
  }
  return bias4(offset + n, min(4u, p.N - n));
}

// Outputs m, n .. n + 3 from the biased sums (and gate sums): split-K's raw sums, else finished; nothing outside
// the matrix.
fn write_out(v: vec4f, g: vec4f, m: u32, n: u32, slice: u32) {
  if (m >= p.M || n >= p.N) {
    return;
  }
  let columns = min(4u, p.N - n);
  if (PARTIAL == 1u) {
    store_partial(v, g, slice, m, n, columns);
  } else {
    finish4_biased(v, g, m, n, columns);
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

  // The first K step's tile, into registers, then into buffer 0.
  // @prefetch(kBegin)
  // @stage(0u)
  workgroupBarrier();

  var current = 0u;
  for (var k0 = kBegin; k0 < kEnd; k0 += TK4) {
    let next = k0 + TK4;
    // The next K step's tile, into registers, while this one is multiplied.
    if (next < kEnd) {
      // @prefetch(next)
    }

    // This thread's TM rows (a<r4>, 4 rows each) times its TN columns (w<j>, the second vec4 WG_N * 4 columns on).
    let xBase = current * XS_STEP;
    let wBase = current * WS_STEP;
    for (var kk = 0u; kk < TK; kk++) {
      // @multiply
    }

    // Into the other buffer: its last readers finished before the previous barrier.
    if (next < kEnd) {
      // @stage(1u - current)
    }
    workgroupBarrier();
    current = 1u - current;
  }

  // @finish
}
