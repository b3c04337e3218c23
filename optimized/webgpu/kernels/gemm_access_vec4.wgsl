// How the GEMM epilogue (gemm_epilogue.wgsl) reads the bias and the residual and writes y where N % 4 == 0: every
// group of 4 columns starts at a multiple of 4 and is whole, so each is one vec4 load or store (gemm_v4.wgsl; the
// launcher prepends this file and y's accessors from storage.ts: y_t, store_y).
alias bias_t = vec4f;
alias residual_t = vec4f;

fn bias4(i: u32, columns: u32) -> vec4f {
  return bias[i / 4u];
}

fn residual4(i: u32, columns: u32) -> vec4f {
  return residual[i / 4u];
}

fn store_y_columns(i: u32, v: vec4f, columns: u32) {
  store_y(i / 4u, v);
}
