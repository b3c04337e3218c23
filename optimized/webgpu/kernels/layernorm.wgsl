// LayerNorm over the last dim, one workgroup per row: y[r, c] = (x[r, c] - mean) / sqrt(var + eps) * w[c] (+ b[c]),
// population variance, computed in two passes (mean, then squared deviations) for accuracy. Values move in
// pairs (C is even), so x and y may be f32 or f16 storage (accessors from storage.ts, prepended by the
// launcher); the statistics are f32.
// Bindings: 0 x [R, C] (read), 1 weight [C] (read), 2 bias [C] (read; ignored unless hasBias), 3 y [R, C] (write),
//           4 params (uniform). Grid: R workgroups (split over x and y), 64 threads.
// Workgroup memory: 64 * 4 = 256 bytes.
struct Params { rows: u32, C: u32, eps: f32, hasBias: u32 }

const THREADS: u32 = 64u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> weight: array<vec2f>;
@group(0) @binding(2) var<storage, read> bias: array<vec2f>;
@group(0) @binding(3) var<storage, read_write> y: array<y_t>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> partial: array<f32, THREADS>;

fn reduce_sum(v: f32, t: u32) -> f32 {
  partial[t] = v;
  workgroupBarrier();
  for (var s = THREADS / 2u; s > 0u; s >>= 1u) {
    if (t < s) {
      partial[t] += partial[t + s];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = wg.x + wg.y * nwg.x;
  if (row >= p.rows) {
    return;
  }
  let t = lid.x;
  let pairs = p.C / 2u;
  let o = row * pairs;
  var s = 0.0;
  for (var c = t; c < pairs; c += THREADS) {
    let v = load_x(o + c);
    s += v.x + v.y;
  }
  let mean = reduce_sum(s, t) / f32(p.C);
  var q = 0.0;
  for (var c = t; c < pairs; c += THREADS) {
    let d = load_x(o + c) - mean;
    q += d.x * d.x + d.y * d.y;
  }
  let rstd = inverseSqrt(reduce_sum(q, t) / f32(p.C) + p.eps);
  for (var c = t; c < pairs; c += THREADS) {
    var v = (load_x(o + c) - mean) * rstd * weight[c];
    if (p.hasBias != 0u) {
      v += bias[c];
    }
    store_y(o + c, v);
  }
}
