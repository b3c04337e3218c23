// GEMM on subgroup matrices (tensor cores: cooperative matrices on Vulkan, simdgroup matrices on Metal):
// y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]), with the epilogues of gemm_v2.wgsl:
//   EPILOGUE 0: nothing   1: + residual[M, N]   2: act(y)   3: GLU, W is [2N, K]: act(x·W[n] + b[n]) * (x·W[N + n] + b[N + n])
// For f16 storage of x and W: their values are halves already, so the f16 matrices lose nothing, and the
// products accumulate in f32 (an f16 x f16 -> f32 configuration of the adapter).
// A workgroup computes 64 x 64 outputs; its first four subgroups each own a 32 x 32 quarter, as
// (32 / SM) x (32 / SN) result matrices (more subgroups, where the subgroup size is smaller than the launcher
// assumed, help only with the loads and the epilogue). Each K step of TK:
// - all threads copy the x rows and W rows of the tile into workgroup memory, K-contiguous (x as a row-major
//   left matrix, W as a column-major right matrix: W[n][k] is right[k][n]), zeros past M, N and K;
// - each subgroup multiplies its left matrices by its right ones, SK of K at a time.
// The results go through workgroup memory (f32, half the tile at a time) to the epilogue, which every thread
// runs on 4 neighbouring columns, as v2 and v3 do.
// The matrix operations come from one of two files the launcher prepends: sgmat_native.wgsl (the WGSL builtins
// of chromium_experimental_subgroup_matrix) or sgmat_emulated.wgsl (the same operations written out in plain
// WGSL, each "subgroup" being 32 threads: slow, for testing this kernel's tiling where the feature is absent).
// Written in front by the launcher, as `const NAME: u32 = <n>u;`: EPILOGUE; SM, SN, SK (the matrix shape);
// THREADS (4 subgroups); TK (K per step, a multiple of SK and of 4). ACTIVATION stays an override.
// Bindings: 0 x, 1 W, 2 bias, 3 residual, 4 y, 5 params (uniform).
struct Params { M: u32, N: u32, K: u32, hasBias: u32 }

const BM: u32 = 64u;
const BN: u32 = 64u;
const TS: u32 = TK + 8u; // elements per tile row: padded so that neighbouring rows start on other banks
const RM: u32 = 32u / SM;
const RN: u32 = 32u / SN;
const SS: u32 = BN + 4u; // staging row stride
const GS_SIZE: u32 = select(1u, BN * TS, EPILOGUE == 3u);
const OUTS: u32 = (BM / 2u) * (BN / 4u) / THREADS; // vec4 outputs per thread per half tile

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> W: array<W_t>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<y_t>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> xs: array<tile_t, BM * TS>; // [BM][TK], K-contiguous
var<workgroup> ws: array<tile_t, BN * TS>; // [BN][TK]
var<workgroup> gs: array<tile_t, GS_SIZE>; // [BN][TK], the gate rows (GLU)
var<workgroup> stage: array<f32, (BM / 2u) * SS>; // half of the results: [BM / 2][BN]

// Four values of K into a tile row.
fn put4(tile: ptr<workgroup, array<tile_t, BN * TS>>, at: u32, v: vec4f) {
  for (var c = 0u; c < 4u; c++) {
    (*tile)[at + c] = to_tile(v[c]);
  }
}

// The staged results of this thread's o-th vec4 of a half tile, and where it goes.
fn staged(o: u32, tid: u32) -> vec4f {
  let e = tid + o * THREADS;
  let at = (e / (BN / 4u)) * SS + (e % (BN / 4u)) * 4u;
  return vec4f(stage[at], stage[at + 1u], stage[at + 2u], stage[at + 3u]);
}

@compute @workgroup_size(THREADS)
fn main(inv: Invocation) {
  let tid = inv.index;
  let row0 = inv.group.y * BM;
  let col0 = inv.group.x * BN;
  let sg = subgroup_of(inv);
  let mma_subgroup = sg < 4u;
  let sg_row = (sg / 2u) * 32u;
  let sg_col = (sg % 2u) * 32u;
  let K4 = p.K / 4u;
  var acc: array<result_t, RM * RN>;
  var gacc: array<result_t, RM * RN>;
  for (var i = 0u; i < RM * RN; i++) {
    acc[i] = zero_result();
    gacc[i] = zero_result();
  }

  for (var k0 = 0u; k0 < K4; k0 += TK / 4u) {
    for (var e = tid; e < BM * TK / 4u; e += THREADS) {
      let r = e / (TK / 4u);
      let q = e % (TK / 4u);
      var v = vec4f(0.0);
      if (row0 + r < p.M && k0 + q < K4) {
        v = load_x((row0 + r) * K4 + k0 + q);
      }
      put4(&xs, r * TS + 4u * q, v);
    }
    for (var e = tid; e < BN * TK / 4u; e += THREADS) {
      let r = e / (TK / 4u);
      let q = e % (TK / 4u);
      var v = vec4f(0.0);
      if (col0 + r < p.N && k0 + q < K4) {
        v = load_W((col0 + r) * K4 + k0 + q);
      }
      put4(&ws, r * TS + 4u * q, v);
      if (EPILOGUE == 3u) {
        var g = vec4f(0.0);
        if (col0 + r < p.N && k0 + q < K4) {
          g = load_W((p.N + col0 + r) * K4 + k0 + q);
        }
        for (var c = 0u; c < 4u; c++) {
          gs[r * TS + 4u * q + c] = to_tile(g[c]);
        }
      }
    }
    workgroupBarrier();
    if (mma_subgroup) {
      for (var kk = 0u; kk < TK; kk += SK) {
        var a: array<left_t, RM>;
        for (var i = 0u; i < RM; i++) {
          a[i] = load_left((sg_row + i * SM) * TS + kk);
        }
        for (var j = 0u; j < RN; j++) {
          let b = load_right((sg_col + j * SN) * TS + kk);
          for (var i = 0u; i < RM; i++) {
            acc[i * RN + j] = mma(a[i], b, acc[i * RN + j]);
          }
          if (EPILOGUE == 3u) {
            let g = load_gate((sg_col + j * SN) * TS + kk);
            for (var i = 0u; i < RM; i++) {
              gacc[i * RN + j] = mma(a[i], g, gacc[i * RN + j]);
            }
          }
        }
      }
    }
    workgroupBarrier();
  }

  // Epilogue, half the tile (32 rows: two subgroups' results) at a time.
  for (var half = 0u; half < 2u; half++) {
    if (mma_subgroup && sg / 2u == half) {
      for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) {
          store_result(i * SM * SS + sg_col + j * SN, acc[i * RN + j], inv);
        }
      }
    }
    workgroupBarrier();
    var value: array<vec4f, OUTS>;
    for (var o = 0u; o < OUTS; o++) {
      value[o] = staged(o, tid);
    }
    var gate: array<vec4f, OUTS>;
    if (EPILOGUE == 3u) {
      workgroupBarrier();
      if (mma_subgroup && sg / 2u == half) {
        for (var i = 0u; i < RM; i++) {
          for (var j = 0u; j < RN; j++) {
            store_result(i * SM * SS + sg_col + j * SN, gacc[i * RN + j], inv);
          }
        }
      }
      workgroupBarrier();
      for (var o = 0u; o < OUTS; o++) {
        gate[o] = staged(o, tid);
      }
    }
    for (var o = 0u; o < OUTS; o++) {
      let e = tid + o * THREADS;
      let m = row0 + half * (BM / 2u) + e / (BN / 4u);
      let n = col0 + (e % (BN / 4u)) * 4u;
      let columns = min(4u, select(0u, p.N - n, n < p.N));
      if (m < p.M && columns > 0u) {
        finish4(value[o], gate[o], m, n, columns);
      }
    }
    workgroupBarrier();
  }
}
