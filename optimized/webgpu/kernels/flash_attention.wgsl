// Varlen flash attention with a window (flash-attention's names and semantics):
//   qkv [T, 3, H, D] packed by cuSeqlens [B+1]; query i of a sequence sees keys j of the same sequence with
//   i - left <= j <= i + right (inclusive; -1 = unlimited). out[T, H*D] = softmax(q·k * scale) · v.
// Tiled with an online softmax: no score matrix is stored, and a workgroup visits only the key tiles that
// meet the windows of its queries (local layers: about (BR + left + right) / BC tiles, not L / BC).
// Padded execution (flash-attention's seqused_k): when p.useSeqused is set, sequence b's rows start at
// cuSeqlens[b] but only its first sequsedK[b] rows are keys; the rest are pads, computed as queries and never
// seen as keys. A query whose window holds no key (a pad far past the end) gets a zero output.
// Bindings: 0 qkv (read, q and k already rotated), 1 cuSeqlens [B+1] u32 (read), 2 sequsedK [B] u32 (read;
//           a placeholder when unused), 3 out [T, H*D] (write), 4 params (uniform).
//           Override: D (head dim, <= MAX_D).
// Grid: ceil(maxSeqlen / BR) x H x B workgroups of BR threads, one query per thread.
// Workgroup memory: ks + vs = 2 * BC * D * 4 bytes (D = 64: 8 KiB).
// Masked scores use the most negative finite f32; every real query sees at least itself.
struct Params { B: u32, H: u32, left: i32, right: i32, scale: f32, useSeqused: u32 }

override D: u32 = 64u;
const MAX_D: u32 = 128u;
const BR: u32 = 32u;
const BC: u32 = 16u;
const NEG: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> cuSeqlens: array<u32>;
@group(0) @binding(2) var<storage, read> sequsedK: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> ks: array<f32, BC * D>;
var<workgroup> vs: array<f32, BC * D>;

fn visible(i: u32, j: u32) -> bool {
  return (p.left < 0 || i32(j) >= i32(i) - p.left) && (p.right < 0 || i32(j) <= i32(i) + p.right);
}

@compute @workgroup_size(BR)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wg.z;
  let h = wg.y;
  let q0 = wg.x * BR;
  let start = cuSeqlens[b];
  let n = cuSeqlens[b + 1u] - start;
  var nk = n;
  if (p.useSeqused != 0u) {
    nk = min(sequsedK[b], n);
  }
  if (q0 >= n) {
    return;
  }
  let C = p.H * D;
  let qi = q0 + lid.x;
  let isQuery = qi < n;
  var q: array<f32, MAX_D>;
  var acc: array<f32, MAX_D>;
  if (isQuery) {
    for (var d = 0u; d < D; d++) {
      q[d] = qkv[(start + qi) * 3u * C + h * D + d];
    }
  }
  var m = NEG;
  var l = 0.0;
  // The keys the windows of this tile's queries [q0, qLast] can reach.
  let qLast = min(q0 + BR, n) - 1u;
  var kLo = 0u;
  if (p.left >= 0) {
    kLo = u32(max(0, i32(q0) - p.left));
  }
  var kHi = i32(nk) - 1;
  if (p.right >= 0) {
    kHi = min(kHi, i32(qLast) + p.right);
  }
  for (var k0 = kLo; i32(k0) <= kHi; k0 += BC) {
    for (var e = lid.x; e < BC * D; e += BR) {
      let row = (start + min(k0 + e / D, nk - 1u)) * 3u * C + h * D + e % D;
      ks[e] = qkv[row + C];
      vs[e] = qkv[row + 2u * C];
    }
    workgroupBarrier();
    if (isQuery) {
      var s: array<f32, BC>;
      var tileMax = NEG;
      for (var jj = 0u; jj < BC; jj++) {
        let j = k0 + jj;
        s[jj] = NEG;
        if (i32(j) <= kHi && visible(qi, j)) {
          var dot = 0.0;
          for (var d = 0u; d < D; d++) {
            dot += q[d] * ks[jj * D + d];
          }
          s[jj] = dot * p.scale;
          tileMax = max(tileMax, s[jj]);
        }
      }
      if (tileMax > NEG) {
        let mNew = max(m, tileMax);
        let correction = exp(m - mNew);
        l *= correction;
        for (var d = 0u; d < D; d++) {
          acc[d] *= correction;
        }
        for (var jj = 0u; jj < BC; jj++) {
          if (s[jj] > NEG) {
            let pj = exp(s[jj] - mNew);
            l += pj;
            for (var d = 0u; d < D; d++) {
              acc[d] += pj * vs[jj * D + d];
            }
          }
        }
        m = mNew;
      }
    }
    workgroupBarrier();
  }
  if (isQuery) {
    for (var d = 0u; d < D; d++) {
      out[(start + qi) * C + h * D + d] = select(0.0, acc[d] / l, l > 0.0);
    }
  }
}
