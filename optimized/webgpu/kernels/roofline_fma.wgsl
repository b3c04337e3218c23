// Roofline: the adapter's FMA rate, on registers only (no memory traffic in the loop).
// The launcher writes in front `alias scalar_t = f32;`, or `enable f16;` and `alias scalar_t = f16;`.
// Each thread runs 8 independent vec4 accumulators (32 scalar chains) through a = fma(a, m, c): enough
// independent work per thread to hide the FMA latency even at low occupancy, the rest hidden by other warps.
// The chains cannot be folded away: m and c are uniforms (unknown to the compiler), the loop count is a
// uniform (no complete unrolling), every chain and every lane starts from a different value (no two chains
// or lanes can be merged as the same computation), and the sum of all of them is written out.
// With m just below 1 each chain converges slowly towards c / (1 - m): no overflow, no denormals, and every
// step still changes the value (the test replays the chain on the CPU).
// Bindings: 0 out [threads] f32 (write: the sum of the thread's chains), 1 params (uniform).
// Grid: workgroups (split over x and y) of 256 threads. No workgroup memory.
// Work per thread: iterations x 4 rounds x 8 vec4 FMAs = 128 x iterations scalar FMAs = 256 x iterations
// FLOPs; 4 bytes written once (not counted: under 0.01% of the time at the launcher's sizes).
struct Params { iterations: u32, m: f32, c: f32, pad: u32 }

const THREADS: u32 = 256u;
alias vec_t = vec4<scalar_t>;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let thread = (wg.x + wg.y * nwg.x) * THREADS + li;
  let m = vec_t(scalar_t(p.m));
  let c = vec_t(scalar_t(p.c));
  // Start values in [0, 1): per thread, per chain (the 1/8 steps) and per lane (the 1/32 steps).
  let start = vec_t(vec4f(f32(thread % 4u) * 0.0078125) + vec4f(0.0, 0.03125, 0.0625, 0.09375));
  var a0 = start;
  var a1 = start + vec_t(0.125);
  var a2 = start + vec_t(0.25);
  var a3 = start + vec_t(0.375);
  var a4 = start + vec_t(0.5);
  var a5 = start + vec_t(0.625);
  var a6 = start + vec_t(0.75);
  var a7 = start + vec_t(0.875);
  for (var i = 0u; i < p.iterations; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);

    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);

    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);

    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);
  }
  let sum = vec4f(a0) + vec4f(a1) + vec4f(a2) + vec4f(a3) + vec4f(a4) + vec4f(a5) + vec4f(a6) + vec4f(a7);
  out[thread] = sum.x + sum.y + sum.z + sum.w;
}
