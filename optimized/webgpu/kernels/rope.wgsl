// RoPE in place on packed q and k, GPT-NeoX style ("rotate_half"): for j < D/2, with the angle of the token's
// position p (its index inside its own sequence):
//   x[j] <- x[j] cos - x[j + D/2] sin,   x[j + D/2] <- x[j + D/2] cos + x[j] sin.
// The cos/sin tables [P, D/2] are built on the CPU for the layer's theta (as HF builds them, in f32),
// because GPU sin/cos lose accuracy on large angles.
// Bindings: 0 qkv [T, 3, H, D] (read_write; q and k are rotated, v untouched), 1 positions [T] u32 (read),
//           2 cos [P, D/2] (read), 3 sin [P, D/2] (read), 4 params (uniform).
// Grid: ceil(T * 2 * H * D/2 / 64) workgroups (split over x and y), 64 threads. No workgroup memory.
struct Params { T: u32, H: u32, D: u32 }

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> positions: array<u32>;
@group(0) @binding(2) var<storage, read> cosTable: array<f32>;
@group(0) @binding(3) var<storage, read> sinTable: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let half = p.D / 2u;
  let i = (wg.x + wg.y * nwg.x) * 64u + li;
  if (i >= p.T * 2u * p.H * half) {
    return;
  }
  let j = i % half;
  let h = (i / half) % p.H;
  let which = (i / (half * p.H)) % 2u; // 0 = q, 1 = k
  let t = i / (half * p.H * 2u);
  let base = t * 3u * p.H * p.D + which * p.H * p.D + h * p.D;
  let c = cosTable[positions[t] * half + j];
  let s = sinTable[positions[t] * half + j];
  let x1 = qkv[base + j];
  let x2 = qkv[base + half + j];
  qkv[base + j] = x1 * c - x2 * s;
  qkv[base + half + j] = x2 * c + x1 * s;
}
