// The matrix operations of sgmat_native.wgsl written out in plain WGSL (core WGSL: SwiftShader runs it), to test
// gemm_sgmat.wgsl and flash_attention_sgmat.wgsl where no adapter offers subgroup matrices. A "subgroup" is 32
// consecutive threads. The tile holds f16 values as SwiftShader can, two to a u32 (pack2x16float), rounded as the
// native tile rounds them; left matrices are where they lie in the tile (the kernels multiply them before they
// restage it); each lane holds the result elements lane, lane + 32, ..., all in one column (lane % SN), and of a
// right matrix that column. The products of halves and their f32 sums are those of an f16 x f16 -> f32 matrix
// unit, up to the order of the additions.
const LANES: u32 = 32u;
const_assert LANES % SN == 0u; // a lane's result elements share a column
// Left matrices are read from the tile when they are multiplied: it must hold them until then.
const LAZY_OPERANDS: bool = true;

struct left_t { at: u32, stride: u32 } // left[m][k] at tile[at + m * stride + k]
struct right_t { v: array<f32, SK> } // right[k][lane % SN]
struct result_t { v: array<f32, SM * SN / LANES> } // element lane + LANES * i: row e / SN, column e % SN

var<workgroup> tile: array<u32, TILE_SIZE / 2u>; // halves, two to a u32
var<workgroup> stage: array<f32, STAGE_SIZE>;

// The thread (the kernel takes its workgroup id apart: control flow on it stays workgroup-uniform).
struct Invocation {
  @builtin(local_invocation_index) index: u32,
}

var<private> lane: u32;

// The thread's subgroup, its lane in it and the subgroup's size (32); records the lane for the operations.
fn subgroup_of(inv: Invocation) -> vec3u {
  lane = inv.index % LANES;
  return vec3u(inv.index / LANES, lane, LANES);
}

// Four values (at a multiple of 4) into the tile.
fn put4(at: u32, v: vec4f) {
  let s = clamp(v, vec4f(-65504.0), vec4f(65504.0));
  tile[at / 2u] = pack2x16float(s.xy);
  tile[at / 2u + 1u] = pack2x16float(s.zw);
}

fn tile_at(i: u32) -> f32 {
  return unpack2x16float(tile[i / 2u])[i % 2u];
}

fn zero_result() -> result_t {
  return result_t();
}

fn load_left(at: u32, stride: u32) -> left_t {
  return left_t(at, stride);
}

// right[k][n] at tile[at + n * stride + k]
fn load_right(at: u32, stride: u32) -> right_t {
  var b: right_t;
  for (var k = 0u; k < SK; k++) {
    b.v[k] = tile_at(at + (lane % SN) * stride + k);
  }
  return b;
}

// right[k][n] at tile[at + k * stride + n]
fn load_right_rows(at: u32, stride: u32) -> right_t {
  var b: right_t;
  for (var k = 0u; k < SK; k++) {
    b.v[k] = tile_at(at + k * stride + lane % SN);
  }
  return b;
}

// A storage buffer's values, as the kernels declare it to load matrices from it: halves, two to a u32 (f16 storage).
alias stored_t = u32;

// right[k][n] at half (at + n * stride + k) of w
fn load_right_stored(w: ptr<storage, array<u32>, read>, at: u32, stride: u32) -> right_t {
  var b: right_t;
  for (var k = 0u; k < SK; k++) {
    let i = at + (lane % SN) * stride + k;
    b.v[k] = unpack2x16float((*w)[i / 2u])[i % 2u];
  }
  return b;
}

fn mma(a: left_t, b: right_t, c: result_t) -> result_t {
  var r = c;
  for (var i = 0u; i < SM * SN / LANES; i++) {
    let x0 = a.at + ((lane + i * LANES) / SN) * a.stride;
    var s = r.v[i];
    for (var k = 0u; k < SK; k++) {
      s += tile_at(x0 + k) * b.v[k];
    }
    r.v[i] = s;
  }
  return r;
}

fn store_result(at: u32, c: result_t, stride: u32) {
  for (var i = 0u; i < SM * SN / LANES; i++) {
    let e = lane + i * LANES;
    stage[at + (e / SN) * stride + e % SN] = c.v[i];
  }
}

fn load_result(at: u32, stride: u32) -> result_t {
  var c: result_t;
  for (var i = 0u; i < SM * SN / LANES; i++) {
    let e = lane + i * LANES;
    c.v[i] = stage[at + (e / SN) * stride + e % SN];
  }
  return c;
}
