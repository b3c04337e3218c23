// GEMM v1 (the baseline of gemm_v2.wgsl), tiled with epilogues: y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]), then
//   EPILOGUE 0: nothing        1: + residual[M, N]        2: act(y)
//   EPILOGUE 3: GLU, W is [2N, K] (rows 0..N-1 activated, N..2N-1 gate):
//               y[m, n] = act(x·W[n] + b[n]) * (x·W[N + n] + b[N + n])
// Bindings: 0 x [M, K] (read), 1 W [N or 2N, K] (read), 2 bias [N or 2N] (read; ignored unless hasBias),
//           3 residual [M, N] (read; ignored unless EPILOGUE 1), 4 y [M, N] (write), 5 params (uniform).
// Tile: a workgroup of 16 x 16 threads computes 64 x 64 outputs, 4 x 4 per thread, K in steps of 16.
// Workgroup memory: xs 64*16*4 + ws 64*16*4 + gs 64*16*4 = 12 KiB (gs only used by GLU).
// Each output sums over k in order, in f32, like the reference. act() comes from activation.wgsl (prepended).
struct Params { M: u32, N: u32, K: u32, hasBias: u32 }

override EPILOGUE: u32 = 0u;
const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> xs: array<f32, 1024>; // [TM][TK]
var<workgroup> ws: array<f32, 1024>; // [TN][TK]
var<workgroup> gs: array<f32, 1024>; // [TN][TK], gate rows (GLU)

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wg.y * TM;
  let col0 = wg.x * TN;
  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, 16>;
  var gacc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var i = 0u; i < 4u; i++) {
      let e = tid + i * 256u;
      let r = e / TK;
      let k = k0 + e % TK;
      let m = row0 + r;
      let n = col0 + r;
      var xv = 0.0;
      if (m < p.M && k < p.K) {
        xv = x[m * p.K + k];
      }
      xs[e] = xv;
      var wv = 0.0;
      var gv = 0.0;
      if (n < p.N && k < p.K) {
        wv = W[n * p.K + k];
        if (EPILOGUE == 3u) {
          gv = W[(n + p.N) * p.K + k];
        }
      }
      ws[e] = wv;
      gs[e] = gv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      for (var i = 0u; i < 4u; i++) {
        let a = xs[(lid.y * 4u + i) * TK + kk];
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] += a * ws[(lid.x * 4u + j) * TK + kk];
          if (EPILOGUE == 3u) {
            gacc[i * 4u + j] += a * gs[(lid.x * 4u + j) * TK + kk];
          }
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = row0 + lid.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let n = col0 + lid.x * 4u + j;
      if (m < p.M && n < p.N) {
        var v = acc[i * 4u + j];
        if (p.hasBias != 0u) {
          v += bias[n];
        }
        if (EPILOGUE == 1u) {
          v += residual[m * p.N + n];
        } else if (EPILOGUE == 2u) {
          v = act(v);
        } else if (EPILOGUE == 3u) {
          var g = gacc[i * 4u + j];
          if (p.hasBias != 0u) {
            g += bias[p.N + n];
          }
          v = act(v) * g;
        }
        y[m * p.N + n] = v;
      }
    }
  }
}
