// Embedding gather on packed tokens: out[t, c] = table[tokens[t], c]. Values move in pairs (C is even), so the
// table and out may be f32 or f16 storage (accessors from storage.ts, prepended by the launcher). The table is
// row-major, or (p.SN > 0) packed for the subgroup-matrix GEMM where it is also the tied decoder's weight
// (gemm_sgmat.ts packSgmatWeights: f16 fragments of SN rows by SK columns, p.KB of them along a row block).
// Bindings: 0 tokens [T] u32 (read), 1 table [V, C] (read), 2 out [T, C] (write), 3 params (uniform).
// Grid: ceil(T * C / 2 / 64) workgroups (split over x and y), 64 threads. No workgroup memory.
struct Params { T: u32, C: u32, SN: u32, SK: u32, KB: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<table_t>;
@group(0) @binding(2) var<storage, read_write> out: array<out_t>;
@group(0) @binding(3) var<uniform> p: Params;

// The pair of values at row, column c (even) of the table: SK is even, so a pair never straddles fragments.
fn table_pair(row: u32, c: u32) -> u32 {
  if (p.SN == 0u) {
    return (row * p.C + c) / 2u;
  }
  return (((row / p.SN) * p.KB + c / p.SK) * p.SN * p.SK + (row % p.SN) * p.SK + c % p.SK) / 2u;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let pairs = p.C / 2u;
  let i = (wg.x + wg.y * nwg.x) * 64u + li;
  if (i >= p.T * pairs) {
    return;
  }
  store_out(i, load_table(table_pair(tokens[i / pairs], 2u * (i % pairs))));
}
