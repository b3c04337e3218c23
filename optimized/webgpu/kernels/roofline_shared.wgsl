// Roofline: workgroup-memory (shared memory) read bandwidth.
// Each workgroup fills a 16 KiB tile (1024 vec4f; WebGPU's guaranteed maxComputeWorkgroupStorageSize), then
// every thread reads it as vec4 and sums what it reads into 4 accumulators. A warp reads 32 neighbouring vec4
// (512 bytes, no bank conflict: the layout the engine's tiles aim for), at an offset that moves by p.stride
// vec4s per read: the stride is a uniform, so the compiler cannot see that an address repeats and reuse a load,
// and the sums, written out, depend on every load. The tile's values are small integers, so the sums are
// exact in f32 at the test's sizes (the test replays them).
// Bindings: 0 out [threads] f32 (write: the sum of the thread's reads), 1 params (uniform).
// Grid: workgroups (split over x and y) of 256 threads. Workgroup memory: 1024 x 16 = 16384 bytes.
// Bytes per thread: 4 vec4 written to the tile + iterations x 8 vec4 read = 16 x (4 + 8 x iterations) of
// workgroup memory; 4 bytes of global memory written once (not counted).
// FLOPs per thread: 32 x iterations adds (not the point: the loads are the bottleneck).
struct Params { iterations: u32, stride: u32, pad0: u32, pad1: u32 }

const THREADS: u32 = 256u;
const TILE: u32 = 1024u; // vec4f, a power of 2: indices wrap with a mask

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

var<workgroup> tile: array<vec4f, TILE>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let group = wg.x + wg.y * nwg.x;
  for (var e = li; e < TILE; e += THREADS) {
    tile[e] = vec4f(f32(e % 8u), f32(e % 5u), f32(e % 3u), f32(group % 2u));
  }
  workgroupBarrier();
  var s0 = vec4f(0.0);
  var s1 = vec4f(0.0);
  var s2 = vec4f(0.0);
  var s3 = vec4f(0.0);
  var at = li;
  let step = p.stride;
  for (var i = 0u; i < p.iterations; i++) {
    s0 += tile[at & (TILE - 1u)];
    s1 += tile[(at + step) & (TILE - 1u)];
    s2 += tile[(at + 2u * step) & (TILE - 1u)];
    s3 += tile[(at + 3u * step) & (TILE - 1u)];
    s0 += tile[(at + 4u * step) & (TILE - 1u)];
    s1 += tile[(at + 5u * step) & (TILE - 1u)];
    s2 += tile[(at + 6u * step) & (TILE - 1u)];
    s3 += tile[(at + 7u * step) & (TILE - 1u)];
    at += 8u * step;
  }
  let sum = s0 + s1 + s2 + s3;
  out[group * THREADS + li] = sum.x + sum.y + sum.z + sum.w;
}
