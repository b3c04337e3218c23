// Embedding gather on packed tokens: out[t, c] = table[tokens[t], c].
// Bindings: 0 tokens [T] u32 (read), 1 table [V, C] (read), 2 out [T, C] (write), 3 params (uniform).
// Grid: ceil(T * C / 64) workgroups (split over x and y), 64 threads. No workgroup memory.
struct Params { T: u32, C: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * nwg.x) * 64u + li;
  if (i >= p.T * p.C) {
    return;
  }
  let t = i / p.C;
  out[i] = table[tokens[t] * p.C + i % p.C];
}
