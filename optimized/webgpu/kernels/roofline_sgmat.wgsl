// Roofline: the subgroup-matrix (tensor-core) multiply-accumulate rate, f16 x f16 -> f32, with Dawn's
// chromium_experimental_subgroup_matrix builtins (the signatures of sgmat_native.wgsl).
// Written by the launcher at the `// @constants` line (after the directives), as `const NAME: u32 = <n>u;`:
// SM, SN, SK (a shape the adapter lists) and THREADS (4 subgroups of the adapter's largest subgroup size).
// The workgroup fills two left (SM x SK) and two right (SK x SN) f16 matrices in workgroup memory; each of its
// first four subgroups loads them once, then runs 4 independent accumulators c = a x b + c (every pair of a
// left and a right) twice per iteration, and stores its accumulators. Further subgroups (a subgroup smaller
// than the largest size) only help fill the tiles, so the FLOPs counted are exactly the four subgroups'.
// The chain cannot be folded (floating-point accumulation, a uniform loop count) and every accumulator is
// stored. Workgroups store into 256 slots (group % 256): the results are never read, the stores only keep
// the work alive, and a bounded buffer keeps the 32 x 32 shapes to 16 MiB.
// Bindings: 0 out [256, 4 subgroups, 4, SM, SN] f32 (write), 1 params (uniform).
// Grid: workgroups (split over x and y) of THREADS threads.
// Workgroup memory: 2 x 2 x 32 x 32 f16 = 8192 bytes (room for the largest sides, 32).
// FLOPs per workgroup: 4 subgroups x iterations x 8 multiply-accumulates x 2 x SM x SN x SK. Bytes: not counted
// (each subgroup stores 4 x SM x SN x 4 bytes once).
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// The matrix calls sit in control flow that is uniform per subgroup (it depends on subgroup_id only), which
// WGSL's uniformity analysis cannot see.
diagnostic(off, chromium.subgroup_matrix_uniformity);
diagnostic(off, subgroup_uniformity);
// @constants

alias left_t = subgroup_matrix_left<f16, SK, SM>;
alias right_t = subgroup_matrix_right<f16, SN, SK>;
alias result_t = subgroup_matrix_result<f32, SN, SM>;

struct Params { iterations: u32, pad0: u32, pad1: u32, pad2: u32 }

const OPERAND: u32 = 32u * 32u; // elements per matrix slot: the largest side is 32
const SLOTS: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

var<workgroup> lefts: array<f16, 2u * OPERAND>; // two row-major SM x SK matrices
var<workgroup> rights: array<f16, 2u * OPERAND>; // two row-major SK x SN matrices

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32, @builtin(subgroup_id) sg: u32) {
  let group = wg.x + wg.y * nwg.x;
  // Values k / 64 with k < 8: exact in f16, and the products stay far from f32's range.
  for (var e = li; e < 2u * OPERAND; e += THREADS) {
    lefts[e] = f16(f32((e + group) % 7u) * 0.015625);
    rights[e] = f16(f32((3u * e + group) % 5u) * 0.015625);
  }
  workgroupBarrier();
  if (sg >= 4u) {
    return;
  }
  let a0 = subgroupMatrixLoad<left_t>(&lefts, 0u, false, SK);
  let a1 = subgroupMatrixLoad<left_t>(&lefts, OPERAND, false, SK);
  let b0 = subgroupMatrixLoad<right_t>(&rights, 0u, false, SN);
  let b1 = subgroupMatrixLoad<right_t>(&rights, OPERAND, false, SN);
  var c0 = result_t();
  var c1 = result_t();
  var c2 = result_t();
  var c3 = result_t();
  for (var i = 0u; i < p.iterations; i++) {
    c0 = subgroupMatrixMultiplyAccumulate(a0, b0, c0);
    c1 = subgroupMatrixMultiplyAccumulate(a0, b1, c1);
    c2 = subgroupMatrixMultiplyAccumulate(a1, b0, c2);
    c3 = subgroupMatrixMultiplyAccumulate(a1, b1, c3);
    c0 = subgroupMatrixMultiplyAccumulate(a0, b0, c0);
    c1 = subgroupMatrixMultiplyAccumulate(a0, b1, c1);
    c2 = subgroupMatrixMultiplyAccumulate(a1, b0, c2);
    c3 = subgroupMatrixMultiplyAccumulate(a1, b1, c3);
  }
  let at = ((group % SLOTS) * 4u + sg) * 4u * SM * SN;
  subgroupMatrixStore(&out, at, c0, false, SN);
  subgroupMatrixStore(&out, at + SM * SN, c1, false, SN);
  subgroupMatrixStore(&out, at + 2u * SM * SN, c2, false, SN);
  subgroupMatrixStore(&out, at + 3u * SM * SN, c3, false, SN);
}
