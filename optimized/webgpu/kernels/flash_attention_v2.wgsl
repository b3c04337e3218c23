// Varlen flash attention v2 (the baseline is flash_attention.wgsl, "flash_v1"). Semantics are v1's:
//   qkv [T, 3, H, D] packed by cuSeqlens [B+1]; query i of a sequence sees keys j of the same sequence with
//   i - left <= j <= i + right (inclusive; -1 = unlimited). out [T, H*D] = softmax(q·k * scale) · v.
//   Padded execution (flash-attention's seqused_k): when p.useSeqused is set, sequence b's rows start at
//   cuSeqlens[b] but only its first sequsedK[b] rows are keys; the rest are pads, computed as queries and never
//   seen (never even loaded) as keys. A query whose window holds no key writes 0. Masked scores use the most
//   negative finite f32, never -Infinity.
//
// qkv and out may be f32 or f16 storage (accessors load_qkv / store_out from storage.ts, prepended by the
// launcher, move 4 values at a time); scores, softmax and accumulation are f32.
// Bindings: 0 qkv [T, 3, H, D/4] vec4 (read; q and k already rotated; D % 4 == 0 keeps every row vec4-aligned)
//           1 cuSeqlens [B+1] u32 (read)
//           2 sequsedK [B] u32 (read; a placeholder when p.useSeqused == 0)
//           3 out [T, H, D/4] vec4 (write)
//           4 params (uniform)
// Head dim: `const D` below is a generation-time constant (the launcher rewrites that line and names the kernel
//           flash_attention_v2_d<D>), because private arrays cannot be sized by an override. 4 <= D <= 128.
// Overrides: BR queries per workgroup = threads per workgroup (64: two NVIDIA warps share each K/V tile)
//            BC keys per K/V tile (32; a multiple of 4)
//            COUNT_TILES (debug, false): thread 0 overwrites out[first query of its tile, h, 0] with the number
//            of key tiles the workgroup visited, as f32, so a test can check the window tile skipping.
// Grid: ceil(maxSeqlen / BR) x H x B; workgroups past a short sequence's end return at once.
// Workgroup memory: kTile + vTile = 2 * BC * D * 4 bytes
//   D = 64, BC = 32: 2 * 32 * 64 * 4 = 16 KiB (WebGPU's default limit)
//   D = 128, BC = 32: 2 * 32 * 128 * 4 = 32 KiB (the launcher halves BC where the device grants less)
// Registers per thread: q and acc, 2 * D floats (D = 64: 128; D = 128: 256, past NVIDIA's 255, so it spills),
//   plus one vec4 of scores.
//
// Each thread owns one query: q and its output accumulator live in vec4 registers, and every vec4 read from a
// shared tile feeds 4 FMAs (v1: one scalar read per FMA). Keys are walked 4 at a time (a vec4 of scores) with
// an online softmax whose rescale runs only when the running max grows, which after the first keys is rare;
// so the scores of a tile need no private array (which the override BC could not size).
struct Params { B: u32, H: u32, left: i32, right: i32, scale: f32, useSeqused: u32 }

const D: u32 = 64u;
const D4: u32 = D / 4u;
override BR: u32 = 64u;
override BC: u32 = 32u;
override COUNT_TILES: bool = false;
const NEG: f32 = -3.4028234663852886e38;

@group(0) @binding(0) var<storage, read> qkv: array<qkv_t>;
@group(0) @binding(1) var<storage, read> cuSeqlens: array<u32>;
@group(0) @binding(2) var<storage, read> sequsedK: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<out_t>;
@group(0) @binding(4) var<uniform> p: Params;

// Key r of the tile, dims 4c..4c+3, at [r * D4 + c]. In the score and value loops every lane of a warp works on
// its own query against the same key and the same dims at the same time, so all lanes read one address: a
// broadcast, one transaction whatever the layout, and no padding is needed. The cooperative fill writes
// consecutive vec4s from consecutive lanes, which is conflict-free as well.
var<workgroup> kTile: array<vec4f, BC * D4>;
var<workgroup> vTile: array<vec4f, BC * D4>;

@compute @workgroup_size(BR)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
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

  // The keys the windows of this tile's queries [q0, qLast] can reach: the tiles walked are
  // kLo, kLo + BC, ... up to kHi.
  let kRange = workgroup_keys(q0, min(q0 + BR, n) - 1u, nk);
  let kLo = kRange.x;
  let kHi = kRange.y;

  // This thread's query and the keys [kFirst, kLast] its window holds (empty for a thread past the end).
  let qi = q0 + lid.x;
  let isQuery = qi < n;
  let qKeys = query_keys(qi, n, nk);
  let kFirst = qKeys.x;
  let kLast = qKeys.y;
  var q: array<vec4f, D4>;
  var acc: array<vec4f, D4>;
  if (isQuery) {
    let qRow = (start + qi) * rowStride + headOffset;
    for (var c = 0u; c < D4; c++) {
      q[c] = load_qkv(qRow + c);
    }
  }
  var m = NEG; // running max of the scores seen
  var l = 0.0; // running sum of exp(score - m)
  var tiles = 0u;

  for (var k0 = kLo; k0 <= kHi; k0 += i32(BC)) {
    // Rows past kHi are clamped to kHi: a real key (never a pad), masked below for every query.
    for (var e = lid.x; e < BC * D4; e += BR) {
      let key = u32(min(k0 + i32(e / D4), kHi));
      let row = (start + key) * rowStride + headOffset + e % D4;
      kTile[e] = load_qkv(row + p.H * D4);
      vTile[e] = load_qkv(row + 2u * p.H * D4);
    }
    workgroupBarrier();
    for (var j = 0u; j < BC; j += 4u) {
      let j0 = k0 + i32(j);
      // Skip 4 keys that are all outside this query's window (a whole warp skips them only if all its lanes do).
      // The window may be empty (a pad past the last key): then every step is skipped and the output is 0.
      if (max(j0, kFirst) > min(j0 + 3, kLast)) {
        continue;
      }
      var dots = vec4f(0.0);
      for (var c = 0u; c < D4; c++) {
        let qc = q[c];
        dots += vec4f(dot(qc, kTile[j * D4 + c]), dot(qc, kTile[(j + 1u) * D4 + c]), dot(qc, kTile[(j + 2u) * D4 + c]), dot(qc, kTile[(j + 3u) * D4 + c]));
      }
      let keys = vec4i(j0, j0 + 1, j0 + 2, j0 + 3);
      let s = select(vec4f(NEG), dots * p.scale, (keys >= vec4i(kFirst)) & (keys <= vec4i(kLast)));
      let stepMax = max(max(s.x, s.y), max(s.z, s.w));
      // At least one key is visible here (the skip above), so stepMax > NEG.
      if (stepMax > m) {
        let correction = exp(m - stepMax); // 0 on the first visible key: acc and l start at 0
        l *= correction;
        for (var c = 0u; c < D4; c++) {
          acc[c] *= correction;
        }
        m = stepMax;
      }
      let pj = exp(s - m); // masked keys: exp(NEG - m) = 0
      l += pj.x + pj.y + pj.z + pj.w;
      for (var c = 0u; c < D4; c++) {
        acc[c] += pj.x * vTile[j * D4 + c] + pj.y * vTile[(j + 1u) * D4 + c] + pj.z * vTile[(j + 2u) * D4 + c] + pj.w * vTile[(j + 3u) * D4 + c];
      }
    }
    tiles++;
    workgroupBarrier();
  }

  if (isQuery) {
    let outRow = (start + qi) * p.H * D4 + headOffset;
    for (var c = 0u; c < D4; c++) {
      var o = select(vec4f(0.0), acc[c] / l, l > 0.0); // no visible key: the output is defined as 0
      if (COUNT_TILES && lid.x == 0u && c == 0u) {
        o.x = f32(tiles);
      }
      store_out(outRow + c, o);
    }
  }
}
