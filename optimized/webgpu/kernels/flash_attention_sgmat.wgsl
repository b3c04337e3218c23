// Varlen flash attention on subgroup matrices (tensor cores). Semantics are flash_attention_v2.wgsl's: qkv
// [T, 3, H, D] packed by cuSeqlens [B+1]; query i of a sequence sees keys j of the same sequence with
// i - left <= j <= i + right (inclusive; -1 = unlimited); seqused_k pads are never keys; a query whose window
// holds no key writes 0. out [T, H*D] = softmax(q·k * scale) · v.
// Q, K, V and the probabilities P are rounded to f16 for the matrix products (S = Q K^T and P V, f16 x f16 -> f32);
// scores, the online softmax (running max and sum per query) and the output accumulate in f32.
// A workgroup takes BR = 4 * SM queries, SM per subgroup (4 subgroups), and walks the key tiles its queries'
// windows reach (kLo .. kHi, as v2: keyTilesVisited() in attention.ts) BC keys at a time:
// - Q is staged once (zeros past the sequence and past D, up to DP, D padded to the matrices) and each subgroup
//   keeps its DP / SK left matrices (q_<i>) in registers; K and V then reuse Q's part of the tile;
// - S = Q K^T: per subgroup, BC / SN result matrices (K's rows are the right matrices' columns) into the stage;
// - one thread per query: scale, window mask, the running max, P = exp(s - max) rounded to f16 into the tile,
//   the running sum, and the factor exp(old max - new max) the output must be scaled by. The max moves lazily:
//   only where a score passes it by more than LAZY_MAX (P then stays below e^LAZY_MAX, which f16 holds), and the
//   first keys a row sees set it without a factor (its output and sum are still 0);
// - where a factor is not 1 (there is no per-row scaling of a matrix), each output matrix goes through the
//   stage, is scaled row by row and reloaded: rare with a lazy max;
// - O += P V: per subgroup, DP / SN result matrices (o_<j>, named registers), V's rows as the right matrices' rows.
// At the end each output matrix goes through the stage: divided by the running sum, the first D columns stored.
// The matrix operations come from sgmat_native.wgsl or sgmat_emulated.wgsl, the key ranges from flash_keys.wgsl
// (prepended by the launcher).
// Written in front by the launcher, as `const NAME: u32 = <n>u;`: SM, SN, SK (the matrix shape); D (head dim), DP
// (D rounded up to a multiple of SK and SN); BC (keys a tile, a multiple of SN and SK); THREADS (4 subgroups);
// and the code at the `// @name` lines.
// Bindings: 0 qkv [T, 3, H, D/4] vec4 (read; q and k rotated), 1 cuSeqlens [B+1], 2 sequsedK [B] (a placeholder
// when p.useSeqused == 0), 3 out [T, H, D/4] vec4 (write), 4 params (uniform).
// Override COUNT_TILES (debug): thread 0 overwrites out[first query of its tile, h, 0] with the key tiles visited.
struct Params { B: u32, H: u32, left: i32, right: i32, scale: f32, useSeqused: u32 }

override COUNT_TILES: bool = false;
const NEG: f32 = -3.4028234663852886e38;
// How far a score may pass the running max before the max moves (lazy rescaling, as FlashAttention-4 does): P is then
// at most e^8 = 2981, f16 and the f32 sums hold that, and the output and sum are scaled alike, so their ratio is exact.
const LAZY_MAX: f32 = 8.0;
const BR: u32 = 4u * SM;
const D4: u32 = D / 4u;
const DP4: u32 = DP / 4u;
const TD: u32 = DP + 8u; // row stride of Q, K and V in the tile (halves), padded against bank conflicts
const TP: u32 = BC + 8u; // row stride of P
// The tile: K, V, P, and Q where the operations read their operands from the tile when they multiply
// (LAZY_OPERANDS, the emulation); natively Q's matrices are in registers once loaded, and K and V reuse its place.
const KS: u32 = 0u;
const VS: u32 = BC * TD;
const PS: u32 = select(max(BR, 2u * BC), 2u * BC, LAZY_OPERANDS) * TD;
const QS: u32 = select(0u, PS + BR * TP, LAZY_OPERANDS);
const TILE_SIZE: u32 = PS + BR * TP + select(0u, BR * TD, LAZY_OPERANDS);
const RSS: u32 = BC + 4u; // row stride of S in the stage
const RSO: u32 = SN + 4u; // row stride of an output matrix in the stage
const STAGE_SIZE: u32 = max(BR * RSS, 4u * SM * RSO);

@group(0) @binding(0) var<storage, read> qkv: array<qkv_t>;
@group(0) @binding(1) var<storage, read> cuSeqlens: array<u32>;
@group(0) @binding(2) var<storage, read> sequsedK: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<out_t>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> row_max: array<f32, BR>;
var<workgroup> row_sum: array<f32, BR>;
var<workgroup> row_scale: array<f32, BR>; // this tile's factor for the output rows
var<workgroup> rescale: u32; // 1 where some row's factor is not 1

// One output matrix through the stage: scaled row by row by this tile's factors (in the subgroup's slot).
fn scale_rows(slot: u32, sg: u32, lane: u32, lanes: u32) {
  for (var e = lane; e < SM * SN; e += lanes) {
    let at = slot + (e / SN) * RSO + e % SN;
    stage[at] *= row_scale[sg * SM + e / SN];
  }
}

// The end: output matrix j of the subgroup (staged in its slot) divided by the rows' sums; its first D columns stored.
fn store_rows(slot: u32, sg: u32, lane: u32, lanes: u32, j: u32, q0: u32, n: u32, outRow0: u32, tiles: u32) {
  for (var e = lane; e < SM * SN / 4u; e += lanes) {
    let r = e / (SN / 4u);
    let c4 = (j * SN) / 4u + e % (SN / 4u);
    let row = sg * SM + r;
    let qi = q0 + row;
    if (qi < n && c4 < D4) {
      let at = slot + r * RSO + (e % (SN / 4u)) * 4u;
      let l = row_sum[row];
      var o = select(vec4f(0.0), vec4f(stage[at], stage[at + 1u], stage[at + 2u], stage[at + 3u]) / l, l > 0.0);
      if (COUNT_TILES && row == 0u && c4 == 0u) {
        o.x = f32(tiles);
      }
      store_out(outRow0 + qi * p.H * D4 + c4, o);
    }
  }
}

@compute @workgroup_size(THREADS)
fn main(inv: Invocation, @builtin(workgroup_id) wg: vec3u) {
  let tid = inv.index;
  let b = wg.z;
  let h = wg.y;
  let q0 = wg.x * BR;
  let start = cuSeqlens[b];
  let n = cuSeqlens[b + 1u] - start;
  if (q0 >= n) {
    return; // the whole workgroup: it depends only on the workgroup id
  }
  let nk = sequence_keys(b, n);
  let rowStride = 3u * p.H * D4; // vec4s per token row of qkv
  let headOffset = h * D4;
  let kRange = workgroup_keys(q0, min(q0 + BR, n) - 1u, nk);
  let kLo = kRange.x;
  let kHi = kRange.y;
  let s = subgroup_of(inv); // subgroup, lane, lanes
  let mma_subgroup = s.x < 4u;
  let sg = min(s.x, 3u);
  let slot = sg * SM * RSO;

  // Q, zeros past the sequence and past D; the running max and sum.
  for (var e = tid; e < BR * DP4; e += THREADS) {
    let r = e / DP4;
    let c = e % DP4;
    var v = vec4f(0.0);
    if (q0 + r < n && c < D4) {
      v = load_qkv((start + q0 + r) * rowStride + headOffset + c);
    }
    put4(QS + r * TD + 4u * c, v);
  }
  for (var r = tid; r < BR; r += THREADS) {
    row_max[r] = NEG;
    row_sum[r] = 0.0;
  }
  workgroupBarrier();
  // @registers
  workgroupBarrier(); // every subgroup has its Q: K and V may overwrite it
  var tiles = 0u;

  for (var k0 = kLo; k0 <= kHi; k0 += i32(BC)) {
    // K and V rows k0 .. k0 + BC - 1, clamped to kHi (a real key, masked below), zeros past D.
    for (var e = tid; e < BC * DP4; e += THREADS) {
      let r = e / DP4;
      let c = e % DP4;
      var kv = vec4f(0.0);
      var vv = vec4f(0.0);
      if (c < D4) {
        let row = (start + u32(min(k0 + i32(r), kHi))) * rowStride + headOffset + c;
        kv = load_qkv(row + p.H * D4);
        vv = load_qkv(row + 2u * p.H * D4);
      }
      put4(KS + r * TD + 4u * c, kv);
      put4(VS + r * TD + 4u * c, vv);
    }
    workgroupBarrier();
    if (mma_subgroup) {
      // @scores
    }
    workgroupBarrier();
    // The online softmax, a thread per query row.
    for (var r = tid; r < BR; r += THREADS) {
      let qKeys = query_keys(q0 + r, n, nk); // a row past the sequence sees nothing
      let kFirst = qKeys.x;
      let kLast = qKeys.y;
      var tile_max = NEG;
      for (var j = 0u; j < BC; j++) {
        let key = k0 + i32(j);
        if (key >= kFirst && key <= kLast) {
          tile_max = max(tile_max, stage[r * RSS + j] * p.scale);
        }
      }
      // NEG + LAZY_MAX is NEG: a row's first keys always set its max
      let m = select(row_max[r], tile_max, tile_max > row_max[r] + LAZY_MAX);
      var sum = 0.0;
      for (var j = 0u; j < BC; j += 4u) {
        var pr = vec4f(0.0);
        for (var c = 0u; c < 4u; c++) {
          let key = k0 + i32(j + c);
          if (key >= kFirst && key <= kLast) {
            // rounded as the matrix unit reads it, so that the sum matches the products
            pr[c] = unpack2x16float(pack2x16float(vec2f(exp(stage[r * RSS + j + c] * p.scale - m), 0.0))).x;
          }
        }
        sum += pr.x + pr.y + pr.z + pr.w;
        put4(PS + r * TP + j, pr);
      }
      // 1 while the max stays, and on a row's first keys (its output and sum are 0 until then)
      let factor = select(exp(row_max[r] - m), 1.0, row_max[r] == m || row_sum[r] == 0.0);
      row_scale[r] = factor;
      row_sum[r] = row_sum[r] * factor + sum;
      row_max[r] = m;
    }
    workgroupBarrier();
    if (tid == 0u) {
      var grew = 0u;
      for (var i = 0u; i < BR; i++) {
        grew |= u32(row_scale[i] != 1.0);
      }
      rescale = grew;
    }
    if (workgroupUniformLoad(&rescale) != 0u) {
      // @rescale
    }
    if (mma_subgroup) {
      // @pv
    }
    tiles++;
    workgroupBarrier(); // before the next tile overwrites K, V and P
  }

  let outRow0 = start * p.H * D4 + headOffset;
  // @finish
}
