// Naive GEMM, the baseline: one thread per output, y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]) (+ residual[M, N]).
// Bindings: 0 x (read), 1 W (read), 2 bias (read; ignored unless hasBias), 3 residual (read; ignored unless
//           hasResidual), 4 y (write), 5 params (uniform). Grid: ceil(N / 64) x M, 64 threads. No workgroup memory.
struct Params { M: u32, N: u32, K: u32, hasBias: u32, hasResidual: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = gid.x;
  let m = wg.y + wg.z * nwg.y;
  if (n >= p.N || m >= p.M) {
    return;
  }
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
    acc += x[m * p.K + k] * W[n * p.K + k];
  }
  if (p.hasBias != 0u) {
    acc += bias[n];
  }
  if (p.hasResidual != 0u) {
    acc += residual[m * p.N + n];
  }
  y[m * p.N + n] = acc;
}
