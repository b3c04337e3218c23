// The matrix operations of gemm_sgmat.wgsl on the adapter's subgroup matrices (Dawn's
// chromium_experimental_subgroup_matrix): f16 tiles, f32 results. The only file that calls the builtins.
// Targets the Dawn of the `webgpu` package 0.3.10, whose loads take the layout as an argument:
//   subgroupMatrixLoad<T>(ptr, offset, col_major: bool, stride)
//   subgroupMatrixStore(ptr, offset, value, col_major: bool, stride)
// (current Dawn moved col_major into the template: subgroupMatrixLoad<T, col_major>(ptr, offset, stride); a Dawn
// upgrade changes the calls here and nothing else). The launcher puts this file first (its enables must open the
// module) and checks that the adapter lists the SM x SN x SK f16 -> f32 configuration.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// Every call's operands are uniform across its subgroup (they depend on the subgroup's index, which WGSL's
// analysis cannot see is subgroup-uniform), and every call sits in subgroup-uniform control flow.
diagnostic(off, chromium.subgroup_matrix_uniformity);
diagnostic(off, subgroup_uniformity);

alias left_t = subgroup_matrix_left<f16, SK, SM>;
alias right_t = subgroup_matrix_right<f16, SN, SK>;
alias result_t = subgroup_matrix_result<f32, SN, SM>;

var<workgroup> xs: array<f16, BM * TS>; // [BM][TS], K-contiguous
var<workgroup> ws: array<f16, BW * TS>; // [BW][TS]

struct Invocation {
  @builtin(local_invocation_index) index: u32,
  @builtin(workgroup_id) group: vec3u,
  @builtin(subgroup_id) subgroup: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) lanes: u32,
}

// The thread's subgroup, its lane in it and the subgroup's size.
fn subgroup_of(inv: Invocation) -> vec3u {
  return vec3u(inv.subgroup, inv.lane, inv.lanes);
}

// Four values of K, rounded to f16 (saturating: f16() of a value beyond the range is indeterminate), into a tile row.
fn put_x4(at: u32, v: vec4f) {
  let h = vec4<f16>(clamp(v, vec4f(-65504.0), vec4f(65504.0)));
  xs[at] = h.x;
  xs[at + 1u] = h.y;
  xs[at + 2u] = h.z;
  xs[at + 3u] = h.w;
}

fn put_w4(at: u32, v: vec4f) {
  let h = vec4<f16>(clamp(v, vec4f(-65504.0), vec4f(65504.0)));
  ws[at] = h.x;
  ws[at + 1u] = h.y;
  ws[at + 2u] = h.z;
  ws[at + 3u] = h.w;
}

fn zero_result() -> result_t {
  return result_t();
}

// x rows as a row-major left matrix, at element `at` of xs.
fn load_left(at: u32) -> left_t {
  return subgroupMatrixLoad<left_t>(&xs, at, false, TS);
}

// W rows as a column-major right matrix (right[k][n] = W[n][k]), at element `at` of ws.
fn load_right(at: u32) -> right_t {
  return subgroupMatrixLoad<right_t>(&ws, at, true, TS);
}

fn mma(a: left_t, b: right_t, c: result_t) -> result_t {
  return subgroupMatrixMultiplyAccumulate(a, b, c);
}

// A result matrix into the staging tile, row-major (row stride RS), at element `at`.
fn store_result(at: u32, c: result_t) {
  subgroupMatrixStore(&stage, at, c, false, RS);
}
