// Pooling of the last hidden state per sequence: cls takes the first token, mean averages the real tokens
// (summed in order, then divided by the count, like the reference). In padded execution (p.useSeqused) only
// the first sequsedK[b] rows of sequence b are real.
// Bindings: 0 hidden [T, C] (read), 1 cuSeqlens [B+1] u32 (read), 2 sequsedK [B] u32 (read; a placeholder
//           when unused), 3 out [B, C] (write), 4 params (uniform).
// Grid: ceil(B * C / 64) workgroups (split over x and y), 64 threads. No workgroup memory.
struct Params { B: u32, C: u32, mean: u32, useSeqused: u32 }

@group(0) @binding(0) var<storage, read> hidden: array<f32>;
@group(0) @binding(1) var<storage, read> cuSeqlens: array<u32>;
@group(0) @binding(2) var<storage, read> sequsedK: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * nwg.x) * 64u + li;
  if (i >= p.B * p.C) {
    return;
  }
  let b = i / p.C;
  let c = i % p.C;
  let start = cuSeqlens[b];
  var end = cuSeqlens[b + 1u];
  if (p.useSeqused != 0u) {
    end = min(end, start + sequsedK[b]);
  }
  if (p.mean == 0u) {
    out[i] = hidden[start * p.C + c];
    return;
  }
  var sum = 0.0;
  for (var t = start; t < end; t++) {
    sum += hidden[t * p.C + c];
  }
  out[i] = sum / f32(end - start);
}
