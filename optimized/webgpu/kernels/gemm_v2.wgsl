// GEMM v2: y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]), then the epilogues of gemm_v1.wgsl:
//   EPILOGUE 0: nothing        1: + residual[M, N]        2: act(y)
//   EPILOGUE 3: GLU, W is [2N, K] (rows 0..N-1 activated, N..2N-1 gate):
//               y[m, n] = act(x·W[n] + b[n]) * (x·W[N + n] + b[N + n])   (GeGLU when act is gelu)
//   act is the ACTIVATION of activation.wgsl; bias4 and residual4 come from gemm_epilogue.wgsl (both prepended).
// W keeps the checkpoint's [N, K] layout: both operands are K-contiguous, so both tiles load as vec4 along K,
// and the tied MLM decoder goes on sharing the embedding table. Needs K % 4 == 0 (the launcher checks;
// ModernBERT's K are multiples of 64).
// x, W and y may each be f32 or f16 storage (accessors from storage.ts, prepended by the launcher with activation.wgsl;
// an f16 y needs N even); bias and residual are f32; all arithmetic is f32.
// Bindings: 0 x [M, K/4] (read, 4 values a load), 1 W [N or 2N, K/4] (read, 4 values a load), 2 bias [N or 2N]
//           (read; ignored unless hasBias), 3 residual [M, N] (read; ignored unless EPILOGUE 1), 4 y [M, N]
//           (write, 4 columns a store), 5 params (uniform).
// Overrides (the tile shape, picked per adapter by `modernbert tune`): WG_M x WG_N threads, each computing TM
//   rows by 4 columns (one vec4), so a workgroup computes BM = WG_M * TM rows by BN = WG_N * 4 columns, K in
//   steps of TK. TM is 4 or 8; TK is a multiple of 4.
// Workgroup memory: xs TK * (BM/4 + 1) * 16 + ws TK * (BN/4 + 1) * 16 bytes (+ gs, as ws, for GLU only).
//   Default tile (16 x 16 threads, TM 8, TK 16): 16*33*16 + 16*17*16 = 12,800 bytes; GLU 17,152.
// Shared tiles are k-major ([TK][BM] and [TK][BN]): in the inner loop the 16 lanes of a thread row read 16
// neighbouring vec4 of ws (no bank conflict) and all read one vec4 of xs (a broadcast). Each k-row is padded by
// one vec4, so the transposing stores (four lanes per tile row, at different k) hit at most 2 lanes per bank.
// Each output sums over k in order, in f32, like the reference.
// Split-K (PARTIAL 1): workgroup z sums only the vec4s of K from z * kSlice4 to (z + 1) * kSlice4 (kSlice4 a
// multiple of TK / 4) and stores its raw sums (store_partial, gemm_epilogue.wgsl) into y, then the f32
// [slices, M, N or 2N] workspace that gemm_reduce.wgsl adds up and finishes. Otherwise z = 0 and kSlice4 covers K.
struct Params { M: u32, N: u32, K: u32, hasBias: u32, kSlice4: u32 }

override EPILOGUE: u32 = 0u;
override PARTIAL: u32 = 0u;
override WG_M: u32 = 16u;
override WG_N: u32 = 16u;
override TM: u32 = 8u;
override TK: u32 = 16u;
const MAX_TM: u32 = 8u;
override BM: u32 = WG_M * TM;
override BN: u32 = WG_N * 4u;
override XS_STRIDE: u32 = BM / 4u + 1u; // vec4 per k-row of xs, padded by one
override WS_STRIDE: u32 = BN / 4u + 1u;
override XS_SIZE: u32 = TK * XS_STRIDE;
override WS_SIZE: u32 = TK * WS_STRIDE;
override GS_SIZE: u32 = select(1u, WS_SIZE, EPILOGUE == 3u);

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> W: array<W_t>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<y_t>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> xs: array<vec4f, XS_SIZE>; // [TK][BM / 4]
var<workgroup> ws: array<vec4f, WS_SIZE>; // [TK][BN / 4]
var<workgroup> gs: array<vec4f, GS_SIZE>; // [TK][BN / 4], gate rows (GLU)

@compute @workgroup_size(WG_N, WG_M)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  let tid = lid.y * WG_N + lid.x;
  let K4 = p.K / 4u;
  let TK4 = TK / 4u;
  let kEnd = min(K4, (wg.z + 1u) * p.kSlice4);
  var acc: array<vec4f, MAX_TM>;
  var gacc: array<vec4f, MAX_TM>;
  for (var k0 = wg.z * p.kSlice4; k0 < kEnd; k0 += TK4) {
    // Neighbouring lanes read neighbouring vec4 of a row (coalesced), and store them transposed.
    for (var e = tid; e < BM * TK4; e += WG_M * WG_N) {
      let r = e / TK4;
      let kq = e % TK4;
      var v = vec4f(0.0);
      if (row0 + r < p.M && k0 + kq < kEnd) {
        v = load_x((row0 + r) * K4 + k0 + kq);
      }
      let at = 4u * kq * XS_STRIDE + r / 4u;
      xs[at][r % 4u] = v.x;
      xs[at + XS_STRIDE][r % 4u] = v.y;
      xs[at + 2u * XS_STRIDE][r % 4u] = v.z;
      xs[at + 3u * XS_STRIDE][r % 4u] = v.w;
    }
    for (var e = tid; e < BN * TK4; e += WG_M * WG_N) {
      let n = e / TK4;
      let kq = e % TK4;
      var v = vec4f(0.0);
      var g = vec4f(0.0);
      if (col0 + n < p.N && k0 + kq < kEnd) {
        v = load_W((col0 + n) * K4 + k0 + kq);
        if (EPILOGUE == 3u) {
          g = load_W((col0 + n + p.N) * K4 + k0 + kq);
        }
      }
      let at = 4u * kq * WS_STRIDE + n / 4u;
      ws[at][n % 4u] = v.x;
      ws[at + WS_STRIDE][n % 4u] = v.y;
      ws[at + 2u * WS_STRIDE][n % 4u] = v.z;
      ws[at + 3u * WS_STRIDE][n % 4u] = v.w;
      if (EPILOGUE == 3u) {
        gs[at][n % 4u] = g.x;
        gs[at + WS_STRIDE][n % 4u] = g.y;
        gs[at + 2u * WS_STRIDE][n % 4u] = g.z;
        gs[at + 3u * WS_STRIDE][n % 4u] = g.w;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let w = ws[kk * WS_STRIDE + lid.x];
      var g = vec4f(0.0);
      if (EPILOGUE == 3u) {
        g = gs[kk * WS_STRIDE + lid.x];
      }
      for (var r4 = 0u; r4 < TM / 4u; r4++) {
        let a = xs[kk * XS_STRIDE + lid.y * (TM / 4u) + r4];
        acc[4u * r4] += a.x * w;
        acc[4u * r4 + 1u] += a.y * w;
        acc[4u * r4 + 2u] += a.z * w;
        acc[4u * r4 + 3u] += a.w * w;
        if (EPILOGUE == 3u) {
          gacc[4u * r4] += a.x * g;
          gacc[4u * r4 + 1u] += a.y * g;
          gacc[4u * r4 + 2u] += a.z * g;
          gacc[4u * r4 + 3u] += a.w * g;
        }
      }
    }
    workgroupBarrier();
  }
  let n = col0 + lid.x * 4u;
  if (n >= p.N) {
    return;
  }
  let columns = min(4u, p.N - n);
  for (var r = 0u; r < TM; r++) {
    let m = row0 + lid.y * TM + r;
    if (m >= p.M) {
      break;
    }
    if (PARTIAL == 1u) {
      store_partial(acc[r], gacc[r], wg.z, m, n, columns);
    } else {
      finish4(acc[r], gacc[r], m, n, columns);
    }
  }
}
