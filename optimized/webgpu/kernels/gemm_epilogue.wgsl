// The epilogue shared by gemm_v2.wgsl, gemm_v3.wgsl, gemm_v4.wgsl, gemm_sgmat.wgsl and gemm_reduce.wgsl (the
// launcher prepends this file after gemm_access.wgsl or gemm_access_vec4.wgsl, which read the bias and residual;
// the kernels declare the `bias`, `residual` and `y` bindings, the `p` params and EPILOGUE).

// Output row m, columns n .. n + columns - 1 (1 to 4), from its sums v (and the gate's sums g, GLU): the bias,
// then the epilogue (see gemm_v2.wgsl), stored.
fn finish4(sums: vec4f, gate_sums: vec4f, m: u32, n: u32, columns: u32) {
  var v = sums;
  var g = gate_sums;
  if (p.hasBias != 0u) {
    v += bias4(n, columns);
    if (EPILOGUE == 3u) {
      g += bias4(p.N + n, columns);
    }
  }
  finish4_biased(v, g, m, n, columns);
}

// finish4 of sums that have their bias already (gemm_v4.wgsl reads it once per column, not once per row).
fn finish4_biased(sums: vec4f, gate_sums: vec4f, m: u32, n: u32, columns: u32) {
  var v = sums;
  if (EPILOGUE == 1u) {
    v += residual4(m * p.N + n, columns);
  } else if (EPILOGUE == 2u) {
    v = act4(v);
  } else if (EPILOGUE == 3u) {
    v = act4(v) * gate_sums;
  }
  store_y_columns(m * p.N + n, v, columns);
}

// Split-K's first pass: the raw sums of K slice `slice` (no bias, no epilogue) into y, the f32 workspace
// [slices, M, N or 2N] (GLU: the gate's sums at columns N .. 2N - 1), which gemm_reduce.wgsl adds up and finishes.
fn store_partial(sums: vec4f, gate_sums: vec4f, slice: u32, m: u32, n: u32, columns: u32) {
  let width = select(p.N, 2u * p.N, EPILOGUE == 3u);
  let at = (slice * p.M + m) * width + n;
  store_y_columns(at, sums, columns);
  if (EPILOGUE == 3u) {
    store_y_columns(at + p.N, gate_sums, columns);
  }
}
