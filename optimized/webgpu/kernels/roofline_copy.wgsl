// Roofline: global-memory bandwidth, as a copy dst[i] = src[i] of vec4f (a read and a write per element,
// the traffic of a memory-bound kernel such as LayerNorm or RoPE).
// Each workgroup copies 4 x 256 consecutive vec4: each thread loads 4 vec4 (one per 4 KiB block, so a warp's
// loads are 512 contiguous bytes) before it stores any, to keep 4 loads in flight per thread.
// Bindings: 0 src [n] vec4f (read), 1 dst [n] vec4f (write), 2 params (uniform). n is a multiple of 1024.
// Grid: n / 1024 workgroups (split over x and y; a padded grid's extra workgroups return), 256 threads.
// No workgroup memory. Bytes per thread: 4 x 16 read + 4 x 16 written = 128. No FLOPs.
struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32 }

const THREADS: u32 = 256u;
const PER_THREAD: u32 = 4u;

@group(0) @binding(0) var<storage, read> src: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let first = (wg.x + wg.y * nwg.x) * THREADS * PER_THREAD + li;
  if (first >= p.n) {
    return;
  }
  let v0 = src[first];
  let v1 = src[first + THREADS];
  let v2 = src[first + 2u * THREADS];
  let v3 = src[first + 3u * THREADS];
  dst[first] = v0;
  dst[first + THREADS] = v1;
  dst[first + 2u * THREADS] = v2;
  dst[first + 3u * THREADS] = v3;
}
