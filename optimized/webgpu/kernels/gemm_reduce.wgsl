// Split-K's second pass: y[m, n] = finish4 (gemm_epilogue.wgsl: bias, then the epilogue) of the sum over the slices
// of partials[slice, m, n], which gemm_v2.wgsl or gemm_v3.wgsl wrote with PARTIAL 1 (GLU: rows 2N wide, the
// gate's sums at columns N .. 2N - 1). Slices are added in order, so each output is the same on every run.
// The launcher prepends y's store accessor (storage.ts), activation.wgsl and gemm_epilogue.wgsl.
// One thread per 4 columns of a row; the grid may be 2D (launch.ts grid()) where one dimension is too short.
// Bindings: 0 partials (read), 1 bias [N or 2N] (read; ignored unless hasBias), 2 residual [M, N] (read; ignored
//           unless EPILOGUE 1), 3 y [M, N] (write), 4 params (uniform).
struct Params { M: u32, N: u32, slices: u32, hasBias: u32 }

override EPILOGUE: u32 = 0u;
const THREADS: u32 = 64u;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<y_t>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let quads = (p.N + 3u) / 4u;
  let i = (wg.y * groups.x + wg.x) * THREADS + lid.x;
  if (i >= p.M * quads) {
    return;
  }
  let m = i / quads;
  let n = (i % quads) * 4u;
  let columns = min(4u, p.N - n);
  let width = select(p.N, 2u * p.N, EPILOGUE == 3u);
  var sums = vec4f(0.0);
  var gate_sums = vec4f(0.0);
  for (var slice = 0u; slice < p.slices; slice++) {
    let at = (slice * p.M + m) * width + n;
    for (var c = 0u; c < columns; c++) {
      sums[c] += partials[at + c];
      if (EPILOGUE == 3u) {
        gate_sums[c] += partials[at + p.N + c];
      }
    }
  }
  finish4(sums, gate_sums, m, n, columns);
}
