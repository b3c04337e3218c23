// RoPE in place on packed q and k, GPT-NeoX style ("rotate_half"): for j < D/2, with the angle of the token's
// position p (its index inside its own sequence):
//   x[j] <- x[j] cos - x[j + D/2] sin,   x[j + D/2] <- x[j + D/2] cos + x[j] sin.
// The cos/sin tables [P, D/2] are built on the CPU for the layer's theta (as HF builds them, in f32),
// because GPU sin/cos lose accuracy on large angles. Each thread rotates two neighbouring j (D % 4 == 0), so
// qkv may be f32 or f16 storage (accessors from storage.ts, prepended by the launcher); the math is f32.
// Bindings: 0 qkv [T, 3, H, D] (read_write; q and k are rotated, v untouched), 1 positions [T] u32 (read),
//           2 cos [P, D/2] (read), 3 sin [P, D/2] (read), 4 params (uniform).
// Grid: ceil(T * 2 * H * D/4 / 64) workgroups (split over x and y), 64 threads. No workgroup memory.
struct Params { T: u32, H: u32, D: u32 }

@group(0) @binding(0) var<storage, read_write> qkv: array<qkv_t>;
@group(0) @binding(1) var<storage, read> positions: array<u32>;
@group(0) @binding(2) var<storage, read> cosTable: array<vec2f>;
@group(0) @binding(3) var<storage, read> sinTable: array<vec2f>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let quarter = p.D / 4u; // pairs of j per head
  let i = (wg.x + wg.y * nwg.x) * 64u + li;
  if (i >= p.T * 2u * p.H * quarter) {
    return;
  }
  let j2 = i % quarter;
  let h = (i / quarter) % p.H;
  let which = (i / (quarter * p.H)) % 2u; // 0 = q, 1 = k
  let t = i / (quarter * p.H * 2u);
  let base = (t * 3u * p.H * p.D + which * p.H * p.D + h * p.D) / 2u; // in pairs
  let c = cosTable[positions[t] * quarter + j2];
  let s = sinTable[positions[t] * quarter + j2];
  let x1 = load_qkv(base + j2);
  let x2 = load_qkv(base + quarter + j2);
  store_qkv(base + j2, x1 * c - x2 * s);
  store_qkv(base + quarter + j2, x2 * c + x1 * s);
}
