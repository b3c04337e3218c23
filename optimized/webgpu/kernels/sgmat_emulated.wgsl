// The matrix operations of gemm_sgmat.wgsl written out in plain WGSL (core WGSL: SwiftShader runs it), to test
// that kernel's tiling, bounds and epilogues where no adapter offers subgroup matrices. A "subgroup" is 32
// consecutive threads; each loads whole left and right matrices, and computes and stores only the result
// elements of its lane (those whose index is the lane's modulo 32). Tiles are f32: the kernel takes x and W stored in f16, whose
// values f32 holds exactly, so the products and their f32 sums are those of an f16 x f16 -> f32 matrix unit
// (up to the order of the additions).
alias tile_t = f32;
struct left_t { v: array<f32, SM * SK> } // [m][k]
struct right_t { v: array<f32, SK * SN> } // [k][n]
struct result_t { v: array<f32, SM * SN> } // [m][n]

struct Invocation {
  @builtin(local_invocation_index) index: u32,
  @builtin(workgroup_id) group: vec3u,
}

const LANES: u32 = 32u;
var<private> lane: u32;

// The thread's subgroup; also records its lane (called once, first).
fn subgroup_of(inv: Invocation) -> u32 {
  lane = inv.index % LANES;
  return inv.index / LANES;
}

fn to_tile(v: f32) -> tile_t {
  return v;
}

fn zero_result() -> result_t {
  return result_t();
}

fn load_left(at: u32) -> left_t {
  var a: left_t;
  for (var m = 0u; m < SM; m++) {
    for (var k = 0u; k < SK; k++) {
      a.v[m * SK + k] = xs[at + m * TS + k];
    }
  }
  return a;
}

fn load_right(at: u32) -> right_t {
  var b: right_t;
  for (var k = 0u; k < SK; k++) {
    for (var n = 0u; n < SN; n++) {
      b.v[k * SN + n] = ws[at + n * TS + k];
    }
  }
  return b;
}

fn load_gate(at: u32) -> right_t {
  var b: right_t;
  for (var k = 0u; k < SK; k++) {
    for (var n = 0u; n < SN; n++) {
      b.v[k * SN + n] = gs[at + n * TS + k];
    }
  }
  return b;
}

fn mma(a: left_t, b: right_t, c: result_t) -> result_t {
  var r = c;
  for (var e = lane; e < SM * SN; e += LANES) {
    let m = e / SN;
    let n = e % SN;
    var s = r.v[e];
    for (var k = 0u; k < SK; k++) {
      s += a.v[m * SK + k] * b.v[k * SN + n];
    }
    r.v[e] = s;
  }
  return r;
}

fn store_result(at: u32, c: result_t, inv: Invocation) {
  for (var e = lane; e < SM * SN; e += LANES) {
    stage[at + (e / SN) * SS + e % SN] = c.v[e];
  }
}
