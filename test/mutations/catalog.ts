// The mutation catalog of `npm run test:mutations`: bugs planted one at a time in a copy of the tree, each of which
// named tests must catch. A mutation is a text edit of one file: `find` (exactly once in the file) becomes `replace`,
// or `append` is added at the end of the file. `catches` names the tests that must fail, by file and by a part of
// the test's full name (describe and test titles joined by spaces, as vitest's -t matches it).

export interface Mutation {
  id: string;
  /** the bug, in a few words */
  what: string;
  /** repo-relative path of the file edited */
  file: string;
  edit: { find: string; replace: string } | { append: string };
  catches: { file: string; test: string }[];
}

/** Appended to tasks/model.ts: wraps a pipeline method so that its result list loses its last item. */
const dropLast = (method: string, body = 'r.slice(0, -1)') => `
const mutated_${method} = ModernBertPipeline.prototype.${method};
ModernBertPipeline.prototype.${method} = async function (...args) {
  const r = await mutated_${method}.apply(this, args);
  return ${body};
};
`;

export const MUTATIONS: Mutation[] = [
  {
    id: 'embed-drops-last',
    what: 'embed returns one vector fewer than texts',
    file: 'tasks/model.ts',
    edit: { append: dropLast('embed') },
    catches: [
      { file: 'test/sentence-transformers.test.ts', test: 'reference: every variant equals SentenceTransformer.encode' },
      { file: 'test/tasks.test.ts', test: 'embed: the pooled last hidden state of each text' },
    ],
  },
  {
    id: 'classify-drops-last',
    what: 'classify returns one result fewer than texts',
    file: 'tasks/model.ts',
    edit: { append: dropLast('classify') },
    catches: [
      { file: 'test/tasks.test.ts', test: 'classify: labels from id2label' },
      { file: 'test/tasks.test.ts', test: "classify scores as HF's pipeline does" },
    ],
  },
  {
    id: 'rerank-drops-last',
    what: 'rerank loses its last-ranked document',
    file: 'tasks/model.ts',
    edit: { append: dropLast('rerank') },
    catches: [{ file: 'test/sentence-transformers.test.ts', test: 'reference: rerank scores and orders as CrossEncoder' }],
  },
  {
    id: 'token-classify-drops-last',
    what: "tokenClassify returns no entity list for the last text",
    file: 'tasks/model.ts',
    edit: { append: dropLast('tokenClassify') },
    catches: [{ file: 'test/token-classification.test.ts', test: "reference: every aggregation strategy equals HF's pipeline" }],
  },
  {
    id: 'multiple-choice-drops-last',
    what: "multipleChoice leaves out the last choice's logit and probability",
    file: 'tasks/model.ts',
    edit: { append: dropLast('multipleChoice', '{ ...r, logits: r.logits.slice(0, -1), probabilities: r.probabilities.slice(0, -1) }') },
    catches: [{ file: 'test/multiple-choice.test.ts', test: 'reference: logits and probabilities of each choice' }],
  },
  {
    id: 'gemm-reduce-drops-slice',
    what: "split-K's reduction leaves out the last slice of K",
    file: 'optimized/webgpu/kernels/gemm_reduce.wgsl',
    edit: { find: 'for (var slice = 0u; slice < p.slices; slice++) {', replace: 'for (var slice = 0u; slice + 1u < p.slices; slice++) {' },
    catches: [{ file: 'test/webgpu/gemm.test.ts', test: 'gemm split-K 16x16/tm4/tk16/sk2: every epilogue' }],
  },
  {
    id: 'v4-stage-unswizzled',
    what: 'GEMM v4 stores its shared tiles without the swizzle its multiply reads them with',
    file: 'optimized/webgpu/kernels/gemm_v4.ts',
    edit: { find: '+ swizzle(h / TK4, k);`', replace: '+ h / TK4;`' },
    catches: [{ file: 'test/webgpu/gemm.test.ts', test: 'gemm v4, v3 and v2 v4 none, default tile' }],
  },
  {
    id: 'window-one-key-wider',
    what: "flash attention's sliding window (flash_keys.wgsl: v2's and sgmat's) takes one key more on the left",
    file: 'optimized/webgpu/kernels/flash_keys.wgsl',
    edit: { find: 'kFirst = i32(qi) - p.left;', replace: 'kFirst = i32(qi) - p.left - 1;' },
    catches: [{ file: 'test/webgpu/flash-v2.test.ts', test: 'flash attention v2 D 16, H 2: B = 1 and 7, lengths 1 to 300' }],
  },
  {
    id: 'reference-window-one-key-wider',
    what: "the reference's sliding window takes one key more on the left",
    file: 'reference/attention.ts',
    edit: { find: 'Math.max(0, i - left)', replace: 'Math.max(0, i - left - 1)' },
    catches: [{ file: 'test/reference/modernbert.test.ts', test: 'golden parity (HF transformers semantics) window: fp64 within 1e-9' }],
  },
  {
    id: 'padding-mask-ignored',
    what: 'flash attention ignores the real key count of padded execution (pads become keys)',
    file: 'optimized/webgpu/kernels/flash_keys.wgsl',
    edit: { find: 'if (p.useSeqused != 0u) {', replace: 'if (false) {' },
    catches: [
      { file: 'test/webgpu/flash-v2.test.ts', test: 'padded execution (sequsedK)' },
      { file: 'test/numeric-guards.test.ts', test: 'padded batches whose longest item is a multiple of 32' },
    ],
  },
  {
    id: 'softmax-rescale-dropped',
    what: "flash attention v2 does not rescale the running sum when the running max grows",
    file: 'optimized/webgpu/kernels/flash_attention_v2.wgsl',
    edit: { find: 'l *= correction;', replace: '' },
    catches: [{ file: 'test/webgpu/flash-v2.test.ts', test: 'flash attention v2 D 16, H 2: B = 1 and 7, lengths 1 to 300' }],
  },
  {
    id: 'sgmat-softmax-rescale-dropped',
    what: 'flash attention on subgroup matrices does not rescale the running sum when the running max grows',
    file: 'optimized/webgpu/kernels/flash_attention_sgmat.wgsl',
    edit: { find: 'row_sum[r] = row_sum[r] * factor + sum;', replace: 'row_sum[r] = row_sum[r] + sum;' },
    catches: [{ file: 'test/webgpu/flash-sgmat.test.ts', test: 'flash attention sgmat (emulated) D 16: scores climbing' }],
  },
  {
    id: 'sgmat-max-never-moves',
    what: "flash attention on subgroup matrices keeps a row's first max however far later scores pass it",
    file: 'optimized/webgpu/kernels/flash_attention_sgmat.wgsl',
    edit: { find: 'tile_max > row_max[r] + LAZY_MAX', replace: 'row_max[r] == NEG' },
    catches: [{ file: 'test/webgpu/flash-sgmat.test.ts', test: 'flash attention sgmat (emulated) D 16: scores climbing' }],
  },
  {
    id: 'sgmat-gate-is-value',
    what: "the subgroup-matrix GEMM's GLU multiplies the value rows where the gate rows belong",
    file: 'optimized/webgpu/kernels/gemm_sgmat.ts',
    edit: { find: 'load_weights(p.GATE + sg_col', replace: 'load_weights(sg_col' },
    catches: [{ file: 'test/webgpu/gemm.test.ts', test: 'gemm v4, v3 and v2 sgmat 8x8x8 64x64/tk16 emulated' }],
  },
  {
    id: 'sgmat-packed-k-order',
    what: "the subgroup-matrix GEMM's weights are packed with their K blocks in the wrong order",
    file: 'optimized/webgpu/kernels/gemm_sgmat.ts',
    edit: { find: '(Math.floor(n / m.SN) * fragments + Math.floor(k / m.SK))', replace: '(Math.floor(n / m.SN) * fragments + fragments - 1 - Math.floor(k / m.SK))' },
    catches: [{ file: 'test/webgpu/gemm.test.ts', test: 'gemm v4, v3 and v2 sgmat 16x16x16 128x64/tk16 emulated' }],
  },
  {
    id: 'embedding-packed-fragment-row',
    what: 'the embedding lookup reads a packed table (a tied decoder packed for sgmat) one row off within each fragment',
    file: 'optimized/webgpu/kernels/embedding.wgsl',
    edit: { find: '(row % p.SN) * p.SK', replace: '((row + 1u) % p.SN) * p.SK' },
    catches: [{ file: 'test/webgpu/kernels.test.ts', test: 'embedding gathers rows of a table packed' }],
  },
  {
    id: 'f16-no-saturation',
    what: 'f16 stores pack values past +-65504 unclamped (indeterminate in WGSL)',
    file: 'optimized/webgpu/kernels/storage.ts',
    edit: { find: 'pack2x16float(clamp(${pair}, vec2f(-${F16_MAX}.0), vec2f(${F16_MAX}.0)))', replace: 'pack2x16float(${pair})' },
    catches: [{ file: 'test/webgpu/gemm.test.ts', test: 'an f16 output saturates at +-65504' }],
  },
  {
    id: 'gate-ignores-remeasure',
    what: "the regression gate re-measures a suspect row but keeps its first median",
    file: 'benchmarks/gate.ts',
    edit: { find: 'if (again !== null) row.median_s = Math.min(Number(row.median_s), again);', replace: 'void again;' },
    catches: [{ file: 'test/bench-gate.test.ts', test: 'a transient slowdown passes once re-measured' }],
  },
];

export class MutationError extends Error {}

/** The file's text with the mutation applied; `find` must occur exactly once, or the catalog is out of date. */
export function mutate(source: string, m: Mutation): string {
  if ('append' in m.edit) return source + m.edit.append;
  const { find, replace } = m.edit;
  const count = source.split(find).length - 1;
  if (count !== 1) throw new MutationError(`mutation ${m.id}: ${m.file} holds ${JSON.stringify(find)} ${count} times, expected once`);
  return source.replace(find, () => replace);
}
