// The matrix operations of gemm_sgmat.wgsl and flash_attention_sgmat.wgsl on the adapter's subgroup matrices
// (Dawn's chromium_experimental_subgroup_matrix): f16 operands in the workgroup tile, f32 results. The only file
// that calls the builtins. Targets the Dawn of the `webgpu` package 0.3.10, whose loads and stores take the
// layout as an argument:
//   subgroupMatrixLoad<T>(ptr, offset, col_major: bool, stride)   (ptr: to workgroup or storage memory)
//   subgroupMatrixStore(ptr, offset, value, col_major: bool, stride)
// (current Dawn moved col_major into the template: subgroupMatrixLoad<T, col_major>(ptr, offset, stride); a Dawn
// upgrade changes the calls here and nothing else). The launchers put this file first (its enables must open
// the module) and check that the adapter lists the SM x SN x SK f16 -> f32 configuration. The kernel declares
// TILE_SIZE (halves) and STAGE_SIZE (f32) and the offsets of its operands in them.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// Every call's operands are uniform across its subgroup (they depend on the subgroup's index, which WGSL's
// analysis cannot see is subgroup-uniform), and every call sits in subgroup-uniform control flow.
diagnostic(off, chromium.subgroup_matrix_uniformity);
diagnostic(off, subgroup_uniformity);

// Loads copy the operands into the matrices (the tile may be restaged once they are loaded).
const LAZY_OPERANDS: bool = false;

alias left_t = subgroup_matrix_left<f16, SK, SM>;
alias right_t = subgroup_matrix_right<f16, SN, SK>;
alias result_t = subgroup_matrix_result<f32, SN, SM>;

var<workgroup> tile: array<f16, TILE_SIZE>; // the operands, rounded to f16
var<workgroup> stage: array<f32, STAGE_SIZE>; // results on their way in and out of registers

// The thread (the kernel takes its workgroup id apart: control flow on it stays workgroup-uniform).
struct Invocation {
  @builtin(local_invocation_index) index: u32,
  @builtin(subgroup_id) subgroup: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) lanes: u32,
}

// The thread's subgroup, its lane in it and the subgroup's size.
fn subgroup_of(inv: Invocation) -> vec3u {
  return vec3u(inv.subgroup, inv.lane, inv.lanes);
}

// Four values (at a multiple of 4) into the tile, rounded to f16 (saturating: f16() of a value beyond the range is indeterminate).
fn put4(at: u32, v: vec4f) {
  let h = vec4<f16>(clamp(v, vec4f(-65504.0), vec4f(65504.0)));
  tile[at] = h.x;
  tile[at + 1u] = h.y;
  tile[at + 2u] = h.z;
  tile[at + 3u] = h.w;
}

fn zero_result() -> result_t {
  return result_t();
}

// A row-major left matrix: left[m][k] at tile[at + m * stride + k].
fn load_left(at: u32, stride: u32) -> left_t {
  return subgroupMatrixLoad<left_t>(&tile, at, false, stride);
}

// A right matrix stored column by column: right[k][n] at tile[at + n * stride + k] (rows of W, or of K, are its columns).
fn load_right(at: u32, stride: u32) -> right_t {
  return subgroupMatrixLoad<right_t>(&tile, at, true, stride);
}

// A right matrix stored row by row: right[k][n] at tile[at + k * stride + n] (rows of V are its rows).
fn load_right_rows(at: u32, stride: u32) -> right_t {
  return subgroupMatrixLoad<right_t>(&tile, at, false, stride);
}

// A storage buffer's values, as the kernels declare it to load matrices from it: halves.
alias stored_t = f16;

// A right matrix from a storage buffer, stored column by column: right[k][n] at w[at + n * stride + k].
fn load_right_stored(w: ptr<storage, array<f16>, read>, at: u32, stride: u32) -> right_t {
  return subgroupMatrixLoad<right_t>(w, at, true, stride);
}

fn mma(a: left_t, b: right_t, c: result_t) -> result_t {
  return subgroupMatrixMultiplyAccumulate(a, b, c);
}

// A result matrix into the stage, row-major: c[m][n] at stage[at + m * stride + n].
fn store_result(at: u32, c: result_t, stride: u32) {
  subgroupMatrixStore(&stage, at, c, false, stride);
}

// A result matrix from the stage, row-major.
fn load_result(at: u32, stride: u32) -> result_t {
  return subgroupMatrixLoad<result_t>(&stage, at, false, stride);
}
