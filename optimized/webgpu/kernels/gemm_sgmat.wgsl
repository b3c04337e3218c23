// GEMM on subgroup matrices (tensor cores: cooperative matrices on Vulkan, simdgroup matrices on Metal):
// y[M, N] = x[M, K] · W[N, K]^T (+ bias[N]), with the epilogues of gemm_v2.wgsl:
//   EPILOGUE 0: nothing   1: + residual[M, N]   2: act(y)   3: GLU, W is [2N, K]: act(x·W[n] + b[n]) * (x·W[N + n] + b[N + n])
// W comes packed at upload (gemm_sgmat.ts packSgmatWeights): f16 SN x SK fragments, each a right matrix stored
// column by column (W's rows are its columns) in SN * SK consecutive halves, a row of fragments after another
// along K; rows padded with zeros to whole tiles, K to a multiple of 32, and with GLU the gate rows after the
// padded value rows. So each right matrix loads straight from storage, one contiguous 512 bytes at 16 x 16, with
// no bounds to check and no workgroup memory. x is rounded to f16 as it is staged, and the products accumulate in
// f32 (an f16 x f16 -> f32 configuration of the adapter).
// A workgroup multiplies BM rows of x by BW rows of W: BM x BW outputs, or with GLU BM x BW/2 outputs and their
// BW/2 gate rows. Four subgroups in a 2 x 2 grid each own a quarter: RM x RN result matrices of SM x SN (GLU: RN
// value and RN gate matrices), as named variables (acc_<i>_<j>, gacc_<i>_<j>: no array of matrices, which a
// driver may leave in memory). Each K step of TK:
// - the step's x values, loaded into registers during the previous step's products, go into the tile
//   (K-contiguous, row-major left matrices at a padded row stride; zeros past M and K), and the next step's are loaded;
// - for each SK of K, a subgroup loads its RM left matrices from the tile and multiplies each of its right
//   matrices by them, the right matrices of the next SK loaded from storage before this SK's products.
// The results go one matrix per subgroup at a time through workgroup memory (f32) to the epilogue, which the
// subgroup's threads run on 4 neighbouring columns each, as v2 and v3 do.
// The matrix operations, the tiles and the subgroup of a thread come from one of two files the launcher
// prepends: sgmat_native.wgsl (the builtins of chromium_experimental_subgroup_matrix) or sgmat_emulated.wgsl (the
// same operations in plain WGSL, each "subgroup" being 32 threads: for testing where the feature is absent).
// gemm_sgmat.ts writes in front, as `const NAME: u32 = <n>u;`: EPILOGUE; SM, SN, SK (the matrix shape); BM, BW,
// TK (the tile); THREADS (4 subgroups); and the code at the `// @name` lines. ACTIVATION stays an override.
// Bindings: 0 x, 1 W (packed), 2 bias, 3 residual, 4 y, 5 params (uniform).
struct Params {
  M: u32,
  N: u32,
  K: u32,
  hasBias: u32,
  KB: u32, // fragments along K in the packed weights
  GATE: u32, // GLU: the first gate row in the packed weights (the value rows padded)
}

const TS: u32 = TK + 8u; // tile row stride: padded so that neighbouring rows start on other banks
const TK4: u32 = TK / 4u;
const BN: u32 = select(BW, BW / 2u, EPILOGUE == 3u); // output columns a workgroup
const RS: u32 = SN + 4u; // staged result row stride
const SLOT: u32 = SM * RS; // one staged result matrix
const SLOTS: u32 = select(1u, 2u, EPILOGUE == 3u); // value (and gate) a subgroup
const TILE_SIZE: u32 = BM * TS; // x: [BM][TS], K-contiguous
const STAGE_SIZE: u32 = 4u * SLOTS * SLOT;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> W: array<stored_t>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<y_t>;
@group(0) @binding(5) var<uniform> p: Params;

// vec4 e of a step's x tile (row e / TK4, K from k4 + e % TK4), zeros past M, K and the tile.
fn x_step(e: u32, row0: u32, k4: u32) -> vec4f {
  let r = e / TK4;
  let q = k4 + e % TK4;
  if (r >= BM || row0 + r >= p.M || q >= p.K / 4u) {
    return vec4f(0.0);
  }
  return load_x((row0 + r) * (p.K / 4u) + q);
}

// The right matrix of W's rows n.. n + SN - 1 and K from k (multiples of SN and SK): one packed fragment.
fn load_weights(n: u32, k: u32) -> right_t {
  return load_right_stored(&W, ((n / SN) * p.KB + k / SK) * SN * SK, SK);
}

// The epilogue of one staged result matrix (and its gate), rows m0.., columns n0..: 4 columns a lane at a time.
fn finish_staged(slot: u32, lane: u32, lanes: u32, m0: u32, n0: u32) {
  for (var e = lane; e < SM * SN / 4u; e += lanes) {
    let r = e / (SN / 4u);
    let c = (e % (SN / 4u)) * 4u;
    let at = slot + r * RS + c;
    let v = vec4f(stage[at], stage[at + 1u], stage[at + 2u], stage[at + 3u]);
    var g = vec4f(0.0);
    if (EPILOGUE == 3u) {
      g = vec4f(stage[at + SLOT], stage[at + SLOT + 1u], stage[at + SLOT + 2u], stage[at + SLOT + 3u]);
    }
    let m = m0 + r;
    let n = n0 + c;
    let columns = min(4u, select(0u, p.N - n, n < p.N));
    if (m < p.M && columns > 0u) {
      finish4(v, g, m, n, columns);
    }
  }
}

@compute @workgroup_size(THREADS)
fn main(inv: Invocation, @builtin(workgroup_id) wg: vec3u) {
  let tid = inv.index;
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  let s = subgroup_of(inv); // subgroup, lane, lanes
  // Where the subgroup size is below the one the launcher assumed, the subgroups past 4 only load and finish.
  let mma_subgroup = s.x < 4u;
  let sg_row = (s.x / 2u) * (BM / 2u);
  let sg_col = col0 + (s.x % 2u) * (BN / 2u); // the subgroup's first output column (and W row)
  let slot = min(s.x, 3u) * SLOTS * SLOT;
  let K4 = p.K / 4u;
  let k_end = ((p.K + TK - 1u) / TK) * TK; // the K steps cover the packed weights' padded K
  // @registers
  // @prefetch(0u)
  if (mma_subgroup) {
    // @weights(0u)
  }
  for (var k4 = 0u; k4 < K4; k4 += TK4) {
    // @stage
    workgroupBarrier();
    if (k4 + TK4 < K4) {
      // @prefetch(k4 + TK4)
    }
    if (mma_subgroup) {
      for (var kk = 0u; kk < TK; kk += SK) {
        // @multiply
      }
    }
    workgroupBarrier();
  }
  // @finish
}
