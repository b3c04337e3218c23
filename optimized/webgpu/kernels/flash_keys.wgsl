// The keys a flash-attention workgroup and each of its queries see, shared by flash_attention_v2.wgsl and
// flash_attention_sgmat.wgsl (the launcher prepends this file; the kernels declare p, with left, right and
// useSeqused, and sequsedK). Windows are flash-attention's: query i sees keys i - left .. i + right (inclusive;
// -1 = unlimited). keyTilesVisited() in attention.ts computes the same ranges on the host.

// The keys of sequence b of n rows: all of them, or in padded execution (seqused_k) its first sequsedK[b].
fn sequence_keys(b: u32, n: u32) -> u32 {
  if (p.useSeqused != 0u) {
    return min(sequsedK[b], n);
  }
  return n;
}

// [kLo, kHi]: the keys the windows of queries q0 .. qLast reach, of the sequence's nk keys (kHi < kLo: none).
fn workgroup_keys(q0: u32, qLast: u32, nk: u32) -> vec2i {
  var kLo = 0;
  if (p.left >= 0) {
    kLo = max(0, i32(q0) - p.left);
  }
  var kHi = i32(nk) - 1;
  if (p.right >= 0) {
    kHi = min(kHi, i32(qLast) + p.right);
  }
  return vec2i(kLo, kHi);
}

// [kFirst, kLast]: the keys query qi's window holds (kLast = -1 for a row past the sequence's n rows: none).
fn query_keys(qi: u32, n: u32, nk: u32) -> vec2i {
  var kFirst = 0;
  if (p.left >= 0) {
    kFirst = i32(qi) - p.left;
  }
  var kLast = i32(nk) - 1;
  if (p.right >= 0) {
    kLast = min(kLast, i32(qi) + p.right);
  }
  if (qi >= n) {
    kLast = -1;
  }
  return vec2i(kFirst, kLast);
}
