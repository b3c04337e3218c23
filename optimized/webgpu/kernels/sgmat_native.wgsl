// The matrix operations of gemm_sgmat.wgsl on the adapter's subgroup matrices (Dawn's
// chromium_experimental_subgroup_matrix): f16 tiles, f32 results. The launcher puts this file first (its enables
// must open the module) and checks that the adapter lists the SM x SN x SK f16 -> f32 configuration.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// Every call's operands are uniform across its subgroup (they depend on the subgroup's index, which WGSL's
// analysis cannot see is subgroup-uniform), and every call sits in subgroup-uniform control flow.
diagnostic(off, chromium.subgroup_matrix_uniformity);
diagnostic(off, subgroup_uniformity);

alias tile_t = f16;
alias left_t = subgroup_matrix_left<f16, SK, SM>;
alias right_t = subgroup_matrix_right<f16, SN, SK>;
alias result_t = subgroup_matrix_result<f32, SN, SM>;

struct Invocation {
  @builtin(local_invocation_index) index: u32,
  @builtin(workgroup_id) group: vec3u,
  @builtin(subgroup_id) subgroup: u32,
}

fn subgroup_of(inv: Invocation) -> u32 {
  return inv.subgroup;
}

fn to_tile(v: f32) -> tile_t {
  return f16(v);
}

fn zero_result() -> result_t {
  return result_t();
}

// x rows as a row-major left matrix, at element `at` of xs.
fn load_left(at: u32) -> left_t {
  return subgroupMatrixLoad<left_t>(&xs, at, false, TS);
}

// W rows as a column-major right matrix (right[k][n] = W[n][k]), at element `at` of ws; load_gate reads gs.
fn load_right(at: u32) -> right_t {
  return subgroupMatrixLoad<right_t>(&ws, at, true, TS);
}

fn load_gate(at: u32) -> right_t {
  return subgroupMatrixLoad<right_t>(&gs, at, true, TS);
}

fn mma(a: left_t, b: right_t, c: result_t) -> result_t {
  return subgroupMatrixMultiplyAccumulate(a, b, c);
}

// A result matrix into the staging tile, row-major, at element `at`.
fn store_result(at: u32, c: result_t, inv: Invocation) {
  subgroupMatrixStore(&stage, at, c, false, SS);
}
