// The epilogue reads shared by gemm_v2.wgsl and gemm_v3.wgsl (the launcher prepends this file; the kernels
// declare the `bias` and `residual` bindings): the `columns` (1 to 4) values from i, zeros after them.
fn bias4(i: u32, columns: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var c = 0u; c < columns; c++) {
    v[c] = bias[i + c];
  }
  return v;
}

fn residual4(i: u32, columns: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var c = 0u; c < columns; c++) {
    v[c] = residual[i + c];
  }
  return v;
}
