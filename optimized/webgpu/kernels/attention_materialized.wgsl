// Materialized attention, the baseline: the same result as flash_attention.wgsl, but every score row is
// written to memory (scores [H, T, maxSeqlen]), then normalized, then multiplied by v. One thread per
// (query token, head). Memory grows with T * maxSeqlen: the cost flash attention avoids.
// Padded execution as in flash_attention.wgsl: with p.useSeqused, only the first sequsedK[b] rows are keys.
// Bindings: 0 qkv [T, 3, H, D] (read), 1 cuSeqlens [B+1] u32 (read), 2 sequsedK [B] u32 (read; a placeholder
//           when unused), 3 scores [H, T, maxSeqlen] (read_write), 4 out [T, H*D] (write), 5 params (uniform).
//           Grid: ceil(T / 64) x H, 64 threads. No workgroup memory.
struct Params { T: u32, B: u32, H: u32, D: u32, maxSeqlen: u32, left: i32, right: i32, scale: f32, useSeqused: u32 }

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> cuSeqlens: array<u32>;
@group(0) @binding(2) var<storage, read> sequsedK: array<u32>;
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  let h = gid.y;
  if (t >= p.T) {
    return;
  }
  // The sequence of token t: the last b with cuSeqlens[b] <= t.
  var lo = 0u;
  var hi = p.B;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (cuSeqlens[mid] <= t) { lo = mid; } else { hi = mid; }
  }
  let start = cuSeqlens[lo];
  let n = cuSeqlens[lo + 1u] - start;
  var nk = n;
  if (p.useSeqused != 0u) { nk = min(sequsedK[lo], n); }
  let i = t - start;
  var first = 0u;
  if (p.left >= 0) { first = u32(max(0, i32(i) - p.left)); }
  var last = nk - 1u;
  if (p.right >= 0) { last = min(nk - 1u, i + u32(p.right)); }
  // A query whose window holds no key (a pad far past the end) writes zeros: the loops below do not run.
  let C = p.H * p.D;
  let row = (h * p.T + t) * p.maxSeqlen;
  var m = -3.4028234663852886e38;
  for (var j = first; j <= last; j++) {
    var dot = 0.0;
    for (var d = 0u; d < p.D; d++) {
      dot += qkv[t * 3u * C + h * p.D + d] * qkv[(start + j) * 3u * C + C + h * p.D + d];
    }
    scores[row + j] = dot * p.scale;
    m = max(m, dot * p.scale);
  }
  var sum = 0.0;
  for (var j = first; j <= last; j++) {
    let e = exp(scores[row + j] - m);
    scores[row + j] = e;
    sum += e;
  }
  for (var d = 0u; d < p.D; d++) {
    var acc = 0.0;
    for (var j = first; j <= last; j++) {
      acc += scores[row + j] / sum * qkv[(start + j) * 3u * C + 2u * C + h * p.D + d];
    }
    out[t * C + h * p.D + d] = acc;
  }
}
