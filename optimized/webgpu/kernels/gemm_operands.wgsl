// How GEMM v3 and v4 read their operands (the launcher prepends this file; the kernel declares `p` with M and K,
// and the storage accessors load_x and load_W come from storage.ts).

// Row `row` of x (of W, whose rows end at `rows`) at vec4 column col4 of K; zeros outside the matrix and past
// kEnd, the end of this workgroup's K.
fn x_at(row: u32, col4: u32, kEnd: u32) -> vec4f {
  if (row < p.M && col4 < kEnd) {
    return load_x(row * (p.K / 4u) + col4);
  }
  return vec4f(0.0);
}

fn W_at(row: u32, rows: u32, col4: u32, kEnd: u32) -> vec4f {
  if (row < rows && col4 < kEnd) {
    return load_W(row * (p.K / 4u) + col4);
  }
  return vec4f(0.0);
}
