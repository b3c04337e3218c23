// The subgroup-matrix GEMM's shader source (gemm.ts launches it): sgmat_native.wgsl or sgmat_emulated.wgsl (the
// matrix operations and tiles), then its constants, then gemm_sgmat.wgsl with its registers written out at its
// `// @name` lines. One shader per shape, tile, mode, thread count, epilogue and dtypes: the name carries them,
// so the launcher's pipeline cache keeps one pipeline for each.
import activationSource from './activation.wgsl';
import accessSource from './gemm_access.wgsl';
import epilogueSource from './gemm_epilogue.wgsl';
import sgmatSource from './gemm_sgmat.wgsl';
import emulatedSource from './sgmat_emulated.wgsl';
import nativeSource from './sgmat_native.wgsl';
import { type Kernel, withGeneratedCode } from './launch.ts';
import { type DType, accessors, columnStore } from './storage.ts';
import { type SgmatTile, sgmatTileShape } from './tiles.ts';

/** The emulation's subgroup: 32 threads, 4 of them a 128-thread workgroup. */
export const EMULATED_SUBGROUP = 32;

/** Workgroup memory: the x tile (f16) and a staged result matrix per subgroup (f32; two with GLU). */
export function sgmatWorkgroupBytes(t: SgmatTile, glu: boolean): number {
  const { BM, TK } = sgmatTileShape(t);
  return BM * (TK + 8) * 2 + 4 * (glu ? 2 : 1) * t.SM * (t.SN + 4) * 4;
}

/** Weights packed for gemm_sgmat.wgsl (packSgmatWeights), on the device. */
export interface PackedWeights {
  buffer: GPUBuffer;
  /** the fragment: SN rows of W by SK of K (the right matrix's shape) */
  SN: number;
  SK: number;
  /** W's output features (GLU: value rows, with as many gate rows), its K, and whether it is a GLU weight */
  N: number;
  K: number;
  glu: boolean;
}

export function isPacked(W: GPUBuffer | PackedWeights): W is PackedWeights {
  return 'SK' in W;
}

/** Rows a tile can reach are padded with zeros: to 128 (the widest tile) or for GLU each half to 64; K to 32 (the longest K step). */
const PACKED_ROWS = 128;
const PACKED_K = 32;

/** The padded sizes of packed weights: value rows (the gate rows start there), K, and the halves they take. */
export function packedSize(N: number, K: number, glu: boolean): { rows: number; K: number; halves: number } {
  const rows = Math.ceil(N / (glu ? PACKED_ROWS / 2 : PACKED_ROWS)) * (glu ? PACKED_ROWS / 2 : PACKED_ROWS);
  const paddedK = Math.ceil(K / PACKED_K) * PACKED_K;
  return { rows, K: paddedK, halves: (glu ? 2 : 1) * rows * paddedK };
}

/**
 * W [N, K] (GLU: [2N, K], gate rows second), row-major, in the order gemm_sgmat.wgsl loads it: fragments of SN
 * rows by SK of K, fragment (n / SN, k / SK) at ((n / SN) * K' / SK + k / SK) * SN * SK, element (n % SN) * SK +
 * k % SK; the gate rows from packedSize's `rows` on; zeros in the padding. The values, to be stored as f16.
 */
export function packSgmatWeights(W: ArrayLike<number>, N: number, K: number, glu: boolean, m: { SN: number; SK: number }): Float32Array {
  const size = packedSize(N, K, glu);
  if (W.length !== (glu ? 2 : 1) * N * K) throw new Error(`packSgmatWeights: W has ${W.length} values, not ${glu ? 2 : 1} x ${N} x ${K}`);
  if ((PACKED_ROWS / 2) % m.SN || PACKED_K % m.SK) throw new Error(`packSgmatWeights: ${m.SN} x ${m.SK} fragments do not tile the padding`);
  const out = new Float32Array(size.halves);
  const fragments = size.K / m.SK;
  for (let row = 0; row < W.length / K; row++) {
    const n = glu && row >= N ? size.rows + row - N : row; // the packed row
    for (let k = 0; k < K; k++) {
      out[(Math.floor(n / m.SN) * fragments + Math.floor(k / m.SK)) * m.SN * m.SK + (n % m.SN) * m.SK + (k % m.SK)] = W[row * K + k];
    }
  }
  return out;
}

export interface SgmatOptions {
  /** gemm_v2.wgsl's EPILOGUE number (3: GLU) */
  epilogue: number;
  threads: number;
  /** x and y; W is packed f16 */
  dtypes: { x: DType; y: DType };
}

const kernels = new Map<string, Kernel>();

export function sgmatKernel(t: SgmatTile, o: SgmatOptions): Kernel {
  const { BM, BW, TK } = sgmatTileShape(t);
  const d = o.dtypes;
  const name = `gemm_sgmat${t.emulated ? '_emulated' : ''}_x${d.x}_y${d.y}_e${o.epilogue}_${t.SM}x${t.SN}x${t.SK}_${BM}x${BW}_tk${TK}_t${o.threads}`;
  let kernel = kernels.get(name);
  if (!kernel) {
    const consts = { EPILOGUE: o.epilogue, SM: t.SM, SN: t.SN, SK: t.SK, BM, BW, TK, THREADS: o.threads };
    const header = Object.entries(consts).map(([k, v]) => `const ${k}: u32 = ${v}u;\n`).join('');
    const storage = accessors({ name: 'x', dtype: d.x, width: 4 }) + columnStore('y', d.y);
    // the native file first: its `enable`s must open the module
    const ops = t.emulated ? emulatedSource : nativeSource;
    kernel = { name, source: ops + header + storage + activationSource + accessSource + epilogueSource + withSgmatRegisters(sgmatSource, t, o) };
    kernels.set(name, kernel);
  }
  return kernel;
}

/**
 * gemm_sgmat.wgsl with its registers written out: the result matrices (acc_<i>_<j>: row i, column j of the
 * subgroup's matrices; gacc_ the GLU gate's), the step's x loads (xr<i>: vec4 i of a thread), the next SK's right
 * matrices (w<j>, gw<j> the gate's), and the code that moves them: `prefetch(k4)` (x, global to registers),
 * `weights(k)` (right matrices from the packed weights), `stage` (x registers to the tile), `multiply` (one SK of
 * K: RM left matrices, the next SK's right matrices loaded, each of this SK's times all the left ones) and
 * `finish` (each result matrix through the stage to the epilogue).
 */
function withSgmatRegisters(source: string, t: SgmatTile, o: SgmatOptions): string {
  const { BM, BW, TK } = sgmatTileShape(t);
  const glu = o.epilogue === 3;
  const range = (n: number) => [...Array(n).keys()];
  const rows = range(BM / 2 / t.SM);
  const columns = range(BW / (glu ? 4 : 2) / t.SN);
  const xLoads = range(Math.ceil((BM * TK) / 4 / o.threads));
  const results = (prefix: string) => rows.flatMap((i) => columns.map((j) => `${prefix}_${i}_${j}`));
  const weights = (k: string) => [
    ...columns.map((j) => `w${j} = load_weights(sg_col + ${j * t.SN}u, ${k});`),
    ...(glu ? columns.map((j) => `gw${j} = load_weights(p.GATE + sg_col + ${j * t.SN}u, ${k});`) : []),
  ];
  const parts: Record<string, (arg: string) => string[]> = {
    registers: () => [
      ...[...results('acc'), ...(glu ? results('gacc') : [])].map((v) => `var ${v} = zero_result();`),
      ...xLoads.map((i) => `var xr${i} = vec4f(0.0);`),
      ...[...columns.map((j) => `w${j}`), ...(glu ? columns.map((j) => `gw${j}`) : [])].map((v) => `var ${v}: right_t;`),
    ],
    prefetch: (k4) => xLoads.map((i) => `xr${i} = x_step(tid + ${i * o.threads}u, row0, ${k4});`),
    weights,
    stage: () => xLoads.flatMap((i) => stageLine(`xr${i}`, i * o.threads, BM * (TK / 4), o.threads)),
    multiply: () => [
      `let k = k4 * 4u + kk;`,
      ...rows.map((i) => `let a${i} = load_left((sg_row + ${i * t.SM}u) * TS + kk, TS);`),
      ...columns.map((j) => `let b${j} = w${j};`),
      ...(glu ? columns.map((j) => `let g${j} = gw${j};`) : []),
      `if (k + SK < k_end) {`,
      ...weights('k + SK').map((l) => `  ${l}`),
      `}`,
      ...columns.flatMap((j) => [...rows.map((i) => `acc_${i}_${j} = mma(a${i}, b${j}, acc_${i}_${j});`), ...(glu ? rows.map((i) => `gacc_${i}_${j} = mma(a${i}, g${j}, gacc_${i}_${j});`) : [])]),
    ],
    finish: () =>
      rows.flatMap((i) =>
        columns.flatMap((j) => [
          `if (mma_subgroup) {`,
          `  store_result(slot, acc_${i}_${j}, RS);`,
          ...(glu ? [`  store_result(slot + SLOT, gacc_${i}_${j}, RS);`] : []),
          `}`,
          `workgroupBarrier();`,
          `if (mma_subgroup) {`,
          `  finish_staged(slot, s.y, s.z, row0 + sg_row + ${i * t.SM}u, sg_col + ${j * t.SN}u);`,
          `}`,
          `workgroupBarrier();`,
        ]),
      ),
  };
  return withGeneratedCode(source, 'gemm_sgmat.wgsl', parts);
}

// x's vec4 `first + tid` of the step's `count` into its row (e / TK4) at K (e % TK4) * 4; the last round checks that it is in the tile.
function stageLine(register: string, first: number, count: number, threads: number): string[] {
  const store = `put4((e / TK4) * TS + (e % TK4) * 4u, ${register});`;
  if (first + threads <= count) return [`{`, `  let e = tid + ${first}u;`, `  ${store}`, `}`];
  return [`{`, `  let e = tid + ${first}u;`, `  if (e < ${count}u) {`, `    ${store}`, `  }`, `}`];
}
