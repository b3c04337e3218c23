// GEMM v3: y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]), with the epilogues of gemm_v2.wgsl:
//   EPILOGUE 0: nothing   1: + residual[M, N]   2: act(y)   3: GLU, W is [2N, K]: act(x·W[n] + b[n]) * (x·W[N + n] + b[N + n])
// What changed from v2 (whose first GPU run measured 2.3 TFLOP/s on an H200, 3% of fp32 peak):
// - 2D register tiles: each thread computes TM rows by TN columns (TN 4 or 8: one or two vec4 of columns, the
//   second WG_N * 4 columns further on, so a warp's ws reads stay neighbouring vec4).
// - Register prefetch: the next K step's tile is read from global memory into registers before this step's
//   arithmetic, so the loads are in flight while the FMAs run; they are stored to shared memory after it.
// - The tile transposes in registers: a thread reads the same vec4 of K from 4 neighbouring rows and stores 4
//   whole vec4 (one per k), where v2 stored single floats into vec4 components.
// - The tile and the epilogue are `const`s that the launcher writes in front of this file (like flash attention
//   v2's D), not override constants: every loop over registers has a constant trip count and no break, so the
//   compiler can unroll it and keep acc in registers. (On the H200, v2 ran at ~2.3 TFLOP/s for every tile shape
//   while flash attention v2, whose register loops are bounded by a const, ran at 14-17: private arrays indexed
//   in loops the compiler does not unroll are spilled to local memory; this is the suspect, not yet measured.)
// Layouts, dtypes and bindings are v2's: x and W are K-contiguous (read 4 values a load through the storage
// accessors), bias and residual are f32 (read by gemm_epilogue.wgsl's bias4 and residual4, prepended), all
// arithmetic is f32, each output sums over k in order.
// Bindings: 0 x, 1 W, 2 bias, 3 residual, 4 y, 5 params (uniform).
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
// Each load group is 4 rows by one vec4 of K; the groups of a tile, spread over the threads.
const X_GROUPS: u32 = (BM / 4u) * TK4;
const W_GROUPS: u32 = (BN / 4u) * TK4;
const X_LOADS: u32 = (X_GROUPS + THREADS - 1u) / THREADS;
const W_LOADS: u32 = (W_GROUPS + THREADS - 1u) / THREADS;
const GS_SIZE: u32 = select(1u, TK * WS_STRIDE, EPILOGUE == 3u);
const MAX_LOADS: u32 = 4u;
const MAX_TILE: u32 = 16u; // (TM / 4) * 4 rows x (TN / 4) column vec4, at most 8 x 2

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> W: array<W_t>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<y_t>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> xs: array<vec4f, TK * XS_STRIDE>; // [TK][BM / 4]: xs[k][r4] holds rows 4 r4 .. 4 r4 + 3
var<workgroup> ws: array<vec4f, TK * WS_STRIDE>; // [TK][BN / 4]
var<workgroup> gs: array<vec4f, GS_SIZE>; // [TK][BN / 4], the gate rows (GLU)

// One load group: rows 4 g4 .. 4 g4 + 3 of a K-contiguous matrix, one vec4 at column col4, zeros outside
// (rows from `rows`, columns from kEnd: the end of this workgroup's K).
struct Group { v: array<vec4f, 4> }

fn load_group_x(row: u32, col4: u32, kEnd: u32) -> Group {
  let K4 = p.K / 4u;
  var g: Group;
  for (var i = 0u; i < 4u; i++) {
    if (row + i < p.M && col4 < kEnd) {
      g.v[i] = load_x((row + i) * K4 + col4);
    } else {
      g.v[i] = vec4f(0.0);
    }
  }
  return g;
}

fn load_group_W(row: u32, rows: u32, col4: u32, kEnd: u32) -> Group {
  let K4 = p.K / 4u;
  var g: Group;
  for (var i = 0u; i < 4u; i++) {
    if (row + i < rows && col4 < kEnd) {
      g.v[i] = load_W((row + i) * K4 + col4);
    } else {
      g.v[i] = vec4f(0.0);
    }
  }
  return g;
}

// Group g's 4 k values as 4 vec4 over its 4 rows, at tile[(4 kq + c) * stride + r4].
fn transposed(g: Group, c: u32) -> vec4f {
  return vec4f(g.v[0][c], g.v[1][c], g.v[2][c], g.v[3][c]);
}

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  let tid = lid.y * WG_N + lid.x;
  let kBegin = wg.z * p.kSlice4;
  let kEnd = min(p.K / 4u, kBegin + p.kSlice4);
  var acc: array<vec4f, MAX_TILE>; // [TM][TN / 4]
  var gacc: array<vec4f, MAX_TILE>;
  var xr: array<Group, MAX_LOADS>;
  var wr: array<Group, MAX_LOADS>;
  var gr: array<Group, MAX_LOADS>;

  // The first K step's tile, into registers.
  for (var i = 0u; i < X_LOADS; i++) {
    let e = tid + i * THREADS;
    xr[i] = load_group_x(row0 + 4u * (e / TK4), kBegin + e % TK4, kEnd);
  }
  for (var i = 0u; i < W_LOADS; i++) {
    let e = tid + i * THREADS;
    wr[i] = load_group_W(col0 + 4u * (e / TK4), p.N, kBegin + e % TK4, kEnd);
    if (EPILOGUE == 3u) {
      gr[i] = load_group_W(p.N + col0 + 4u * (e / TK4), 2u * p.N, kBegin + e % TK4, kEnd);
    }
  }

  for (var k0 = kBegin; k0 < kEnd; k0 += TK4) {
    // Registers to shared memory, transposed to k-major.
    for (var i = 0u; i < X_LOADS; i++) {
      let e = tid + i * THREADS;
      if (e < X_GROUPS) {
        let at = 4u * (e % TK4) * XS_STRIDE + e / TK4;
        for (var c = 0u; c < 4u; c++) {
          xs[at + c * XS_STRIDE] = transposed(xr[i], c);
        }
      }
    }
    for (var i = 0u; i < W_LOADS; i++) {
      let e = tid + i * THREADS;
      if (e < W_GROUPS) {
        let at = 4u * (e % TK4) * WS_STRIDE + e / TK4;
        for (var c = 0u; c < 4u; c++) {
          ws[at + c * WS_STRIDE] = transposed(wr[i], c);
          if (EPILOGUE == 3u) {
            gs[at + c * WS_STRIDE] = transposed(gr[i], c);
          }
        }
      }
    }
    workgroupBarrier();

    // The next K step's tile, into registers, while this one is multiplied.
    let next = k0 + TK4;
    if (next < kEnd) {
      for (var i = 0u; i < X_LOADS; i++) {
        let e = tid + i * THREADS;
        xr[i] = load_group_x(row0 + 4u * (e / TK4), next + e % TK4, kEnd);
      }
      for (var i = 0u; i < W_LOADS; i++) {
        let e = tid + i * THREADS;
        wr[i] = load_group_W(col0 + 4u * (e / TK4), p.N, next + e % TK4, kEnd);
        if (EPILOGUE == 3u) {
          gr[i] = load_group_W(p.N + col0 + 4u * (e / TK4), 2u * p.N, next + e % TK4, kEnd);
        }
      }
    }

    for (var kk = 0u; kk < TK; kk++) {
      var a: array<vec4f, 2>; // this thread's TM rows at k
      for (var r4 = 0u; r4 < TM / 4u; r4++) {
        a[r4] = xs[kk * XS_STRIDE + lid.y * (TM / 4u) + r4];
      }
      for (var j = 0u; j < TN / 4u; j++) {
        let w = ws[kk * WS_STRIDE + j * WG_N + lid.x];
        for (var r = 0u; r < TM; r++) {
          acc[r * 2u + j] += a[r / 4u][r % 4u] * w;
        }
        if (EPILOGUE == 3u) {
          let g = gs[kk * WS_STRIDE + j * WG_N + lid.x];
          for (var r = 0u; r < TM; r++) {
            gacc[r * 2u + j] += a[r / 4u][r % 4u] * g;
          }
        }
      }
    }
    workgroupBarrier();
  }

  for (var j = 0u; j < TN / 4u; j++) {
    let n = col0 + j * WG_N * 4u + lid.x * 4u;
    let columns = min(4u, select(0u, p.N - n, n < p.N));
    for (var r = 0u; r < TM; r++) {
      let m = row0 + lid.y * TM + r;
      if (m < p.M && columns > 0u) {
        if (PARTIAL == 1u) {
          store_partial(acc[r * 2u + j], gacc[r * 2u + j], wg.z, m, n, columns);
        } else {
          finish4(acc[r * 2u + j], gacc[r * 2u + j], m, n, columns);
        }
      }
    }
  }
}
