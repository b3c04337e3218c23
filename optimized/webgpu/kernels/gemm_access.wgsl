// How the GEMM epilogue (gemm_epilogue.wgsl) reads the bias and the residual: value by value, for any N (the
// launcher prepends this file; the kernels declare the `bias` and `residual` bindings as arrays of bias_t and
// residual_t, or of f32).
alias bias_t = f32;
alias residual_t = f32;

// The `columns` (1 to 4) values from i, zeros after them.
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
