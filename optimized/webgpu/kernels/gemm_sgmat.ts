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

/** Workgroup memory: the x and W tiles (f16) and a staged result matrix per subgroup (f32; two with GLU). */
export function sgmatWorkgroupBytes(t: SgmatTile, glu: boolean): number {
  const { BM, BW, TK } = sgmatTileShape(t);
  return (BM + BW) * (TK + 8) * 2 + 4 * (glu ? 2 : 1) * t.SM * (t.SN + 4) * 4;
}

export interface SgmatOptions {
  /** gemm_v2.wgsl's EPILOGUE number (3: GLU) */
  epilogue: number;
  threads: number;
  dtypes: { x: DType; W: DType; y: DType };
}

const kernels = new Map<string, Kernel>();

export function sgmatKernel(t: SgmatTile, o: SgmatOptions): Kernel {
  const { BM, BW, TK } = sgmatTileShape(t);
  const d = o.dtypes;
  const name = `gemm_sgmat${t.emulated ? '_emulated' : ''}_x${d.x}_w${d.W}_y${d.y}_e${o.epilogue}_${t.SM}x${t.SN}x${t.SK}_${BM}x${BW}_tk${TK}_t${o.threads}`;
  let kernel = kernels.get(name);
  if (!kernel) {
    const consts = { EPILOGUE: o.epilogue, SM: t.SM, SN: t.SN, SK: t.SK, BM, BW, TK, THREADS: o.threads };
    const header = Object.entries(consts).map(([k, v]) => `const ${k}: u32 = ${v}u;\n`).join('');
    const storage = accessors({ name: 'x', dtype: d.x, width: 4 }, { name: 'W', dtype: d.W, width: 4 }) + columnStore('y', d.y);
    // the native file first: its `enable`s must open the module
    const ops = t.emulated ? emulatedSource : nativeSource;
    kernel = { name, source: ops + header + storage + activationSource + accessSource + epilogueSource + withSgmatRegisters(sgmatSource, t, o) };
    kernels.set(name, kernel);
  }
  return kernel;
}

/**
 * gemm_sgmat.wgsl with its registers written out: the result matrices (acc_<i>_<j>: row i, column j of the
 * subgroup's matrices; gacc_ the GLU gate's), the step's loads (xr<i>, wr<i>: vec4 i of a thread), and the code
 * that moves them: `prefetch(k4)` (global to registers), `stage` (registers to the tiles), `multiply` (one SK of
 * K: RM left matrices, each right matrix times all of them) and `finish` (each result matrix through the stage
 * to the epilogue).
 */
function withSgmatRegisters(source: string, t: SgmatTile, o: SgmatOptions): string {
  const { BM, BW, TK } = sgmatTileShape(t);
  const glu = o.epilogue === 3;
  const range = (n: number) => [...Array(n).keys()];
  const rows = range(BM / 2 / t.SM);
  const columns = range(BW / (glu ? 4 : 2) / t.SN);
  const xLoads = range(Math.ceil((BM * TK) / 4 / o.threads));
  const wLoads = range(Math.ceil((BW * TK) / 4 / o.threads));
  const results = (prefix: string) => rows.flatMap((i) => columns.map((j) => `${prefix}_${i}_${j}`));
  const parts: Record<string, (arg: string) => string[]> = {
    registers: () => [
      ...[...results('acc'), ...(glu ? results('gacc') : [])].map((v) => `var ${v} = zero_result();`),
      ...xLoads.map((i) => `var xr${i} = vec4f(0.0);`),
      ...wLoads.map((i) => `var wr${i} = vec4f(0.0);`),
    ],
    prefetch: (k4) => [...xLoads.map((i) => `xr${i} = x_step(tid + ${i * o.threads}u, row0, ${k4});`), ...wLoads.map((i) => `wr${i} = w_step(tid + ${i * o.threads}u, col0, ${k4});`)],
    stage: () => [
      ...xLoads.flatMap((i) => stageLine('', `xr${i}`, i * o.threads, BM * (TK / 4), o.threads)),
      ...wLoads.flatMap((i) => stageLine('WS + ', `wr${i}`, i * o.threads, BW * (TK / 4), o.threads)),
    ],
    multiply: () => [
      ...rows.map((i) => `let a${i} = load_left((sg_row + ${i * t.SM}u) * TS + kk, TS);`),
      ...columns.flatMap((j) => [
        `let b${j} = load_right(WS + (sg_col + ${j * t.SN}u) * TS + kk, TS);`,
        ...rows.map((i) => `acc_${i}_${j} = mma(a${i}, b${j}, acc_${i}_${j});`),
        ...(glu ? [`let g${j} = load_right(WS + (HALF_W + sg_col + ${j * t.SN}u) * TS + kk, TS);`, ...rows.map((i) => `gacc_${i}_${j} = mma(a${i}, g${j}, gacc_${i}_${j});`)] : []),
      ]),
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
          `  finish_staged(slot, s.y, s.z, row0 + sg_row + ${i * t.SM}u, col0 + sg_col + ${j * t.SN}u);`,
          `}`,
          `workgroupBarrier();`,
        ]),
      ),
  };
  return withGeneratedCode(source, 'gemm_sgmat.wgsl', parts);
}

// vec4 `first + tid` of an operand's tile of `count` (at `offset` in the tile) into its row (e / TK4) at K (e % TK4) * 4; the last round checks that it is in the tile.
function stageLine(offset: string, register: string, first: number, count: number, threads: number): string[] {
  const store = `put4(${offset}(e / TK4) * TS + (e % TK4) * 4u, ${register});`;
  if (first + threads <= count) return [`{`, `  let e = tid + ${first}u;`, `  ${store}`, `}`];
  return [`{`, `  let e = tid + ${first}u;`, `  if (e < ${count}u) {`, `    ${store}`, `  }`, `}`];
}
