// The matrix operations of gemm_sgmat.wgsl written out in plain WGSL (core WGSL: SwiftShader runs it), to test
// that kernel's tiling, bounds and epilogues where no adapter offers subgroup matrices. A "subgroup" is 32
// consecutive threads. The tiles hold f16 values as SwiftShader can, two to a u32 (pack2x16float), rounded as
// the native tiles round them; left and right matrices are where they lie in the tile (an offset: the kernel
// multiplies them before it restages the tile), and each lane holds the result elements lane, lane + 32, ...
// The products of halves and their f32 sums are those of an f16 x f16 -> f32 matrix unit, up to the order of
// the additions.
const LANES: u32 = 32u;

struct left_t { at: u32 } // [m][k] at xs[at + m * TS + k]
struct right_t { at: u32 } // [k][n] at ws[at + n * TS + k]
struct result_t { v: array<f32, SM * SN / LANES> } // element lane + LANES * i: row / SN, column % SN

var<workgroup> xs: array<u32, BM * TS / 2u>; // [BM][TS] halves, K-contiguous
var<workgroup> ws: array<u32, BW * TS / 2u>; // [BW][TS]

struct Invocation {
  @builtin(local_invocation_index) index: u32,
  @builtin(workgroup_id) group: vec3u,
}

var<private> lane: u32;

// The thread's subgroup, its lane in it and the subgroup's size (32); records the lane for mma.
fn subgroup_of(inv: Invocation) -> vec3u {
  lane = inv.index % LANES;
  return vec3u(inv.index / LANES, lane, LANES);
}

fn halves(v: vec4f) -> vec2u {
  let s = clamp(v, vec4f(-65504.0), vec4f(65504.0));
  return vec2u(pack2x16float(s.xy), pack2x16float(s.zw));
}

// Four values of K (at a multiple of 4) into a tile row.
fn put_x4(at: u32, v: vec4f) {
  let h = halves(v);
  xs[at / 2u] = h.x;
  xs[at / 2u + 1u] = h.y;
}

fn put_w4(at: u32, v: vec4f) {
  let h = halves(v);
  ws[at / 2u] = h.x;
  ws[at / 2u + 1u] = h.y;
}

fn x_at(i: u32) -> f32 {
  return unpack2x16float(xs[i / 2u])[i % 2u];
}

fn w_at(i: u32) -> f32 {
  return unpack2x16float(ws[i / 2u])[i % 2u];
}

fn zero_result() -> result_t {
  return result_t();
}

fn load_left(at: u32) -> left_t {
  return left_t(at);
}

fn load_right(at: u32) -> right_t {
  return right_t(at);
}

fn mma(a: left_t, b: right_t, c: result_t) -> result_t {
  var r = c;
  for (var i = 0u; i < SM * SN / LANES; i++) {
    let e = lane + i * LANES;
    let x0 = a.at + (e / SN) * TS;
    let w0 = b.at + (e % SN) * TS;
    var s = r.v[i];
    for (var k = 0u; k < SK; k++) {
      s += x_at(x0 + k) * w_at(w0 + k);
    }
    r.v[i] = s;
  }
  return r;
}

fn store_result(at: u32, c: result_t) {
  for (var i = 0u; i < SM * SN / LANES; i++) {
    let e = lane + i * LANES;
    stage[at + (e / SN) * RS + e % SN] = c.v[i];
  }
}
