// Flash attention on subgroup matrices: flash_attention_sgmat.wgsl's source (sgmat_native.wgsl or
// sgmat_emulated.wgsl, its constants, the qkv and out accessors, flash_keys.wgsl, then the kernel with its
// registers written out at its `// @name` lines) and its tile. attention.ts launches it (variant 'flash_sgmat').
import source from './flash_attention_sgmat.wgsl';
import keysSource from './flash_keys.wgsl';
import emulatedSource from './sgmat_emulated.wgsl';
import nativeSource from './sgmat_native.wgsl';
import { type Kernel, withGeneratedCode } from './launch.ts';
import { type DType, accessors } from './storage.ts';

/** An f16 x f16 -> f32 matrix shape of the adapter (or emulated). */
export interface MatrixShape {
  SM: number;
  SN: number;
  SK: number;
  emulated?: boolean;
}

export interface FlashSgmatTile extends MatrixShape {
  /** the head dim padded to whole matrices */
  DP: number;
  /** keys a tile */
  BC: number;
  /** queries a workgroup: SM for each of 4 subgroups */
  BR: number;
}

/**
 * The tile for head dim D: D padded to a multiple of SK and SN, 32 keys a tile where the workgroup memory
 * allows it (else 16, at least the matrices' sides), within `workgroupBytes`.
 */
export function flashSgmatTile(m: MatrixShape, D: number, workgroupBytes: number): FlashSgmatTile {
  const tile = fittingFlashSgmatTile(m, D, workgroupBytes);
  if (!tile) throw new Error(`flash attention sgmat: head dim ${D} needs more than ${workgroupBytes} bytes of workgroup memory`);
  return tile;
}

/** flashSgmatTile's tile, or null where none fits `workgroupBytes`. */
export function fittingFlashSgmatTile(m: MatrixShape, D: number, workgroupBytes: number): FlashSgmatTile | null {
  const side = Math.max(m.SN, m.SK);
  const DP = Math.ceil(D / side) * side;
  const tiles = [32, 16].filter((BC) => BC >= side).map((BC) => ({ ...m, DP, BC, BR: 4 * m.SM }));
  return tiles.find((t) => flashSgmatBytes(t) <= workgroupBytes) ?? null;
}

/** Workgroup memory, as flash_attention_sgmat.wgsl sizes it: the f16 tile (Q, then K and V, or apart emulated; P), the f32 stage, three f32 per query row. */
export function flashSgmatBytes(t: FlashSgmatTile): number {
  const TD = t.DP + 8;
  const tile = (t.emulated ? 2 * t.BC + t.BR : Math.max(t.BR, 2 * t.BC)) * TD + t.BR * (t.BC + 8);
  const stage = Math.max(t.BR * (t.BC + 4), 4 * t.SM * (t.SN + 4));
  return 2 * tile + 4 * stage + 12 * t.BR + 4;
}

const kernels = new Map<string, Kernel>();

export function flashSgmatKernel(t: FlashSgmatTile, D: number, threads: number, dtype: DType): Kernel {
  const name = `flash_attention_sgmat${t.emulated ? '_emulated' : ''}_d${D}${dtype === 'f16' ? '_f16' : ''}_${t.SM}x${t.SN}x${t.SK}_bc${t.BC}_t${threads}`;
  let kernel = kernels.get(name);
  if (!kernel) {
    const consts = { SM: t.SM, SN: t.SN, SK: t.SK, D, DP: t.DP, BC: t.BC, THREADS: threads };
    const header = Object.entries(consts).map(([k, v]) => `const ${k}: u32 = ${v}u;\n`).join('');
    const access = accessors({ name: 'qkv', dtype, width: 4 }, { name: 'out', dtype, width: 4, write: true });
    kernel = { name, source: (t.emulated ? emulatedSource : nativeSource) + header + access + keysSource + withFlashRegisters(t) };
    kernels.set(name, kernel);
  }
  return kernel;
}

/**
 * The kernel with its registers written out: the subgroup's Q left matrices (q_<i>, one per SK of the head dim)
 * and output matrices (o_<j>, one per SN), and the code that uses them: `scores` (S = Q K^T, one result matrix
 * of SN keys at a time, into the stage), `rescale` (each output matrix through the stage, scaled by its rows'
 * factors), `pv` (O += P V) and `finish`.
 */
function withFlashRegisters(t: FlashSgmatTile): string {
  const range = (n: number) => [...Array(n).keys()];
  const dims = range(t.DP / t.SK);
  const outs = range(t.DP / t.SN);
  const keys = range(t.BC / t.SN);
  const steps = range(t.BC / t.SK);
  const throughStage = (j: number, work: string[]) => [`if (mma_subgroup) {`, `  store_result(slot, o_${j}, RSO);`, `}`, `workgroupBarrier();`, `if (mma_subgroup) {`, ...work.map((l) => `  ${l}`), `}`, `workgroupBarrier();`];
  return withGeneratedCode(source, 'flash_attention_sgmat.wgsl', {
    registers: () => [...dims.map((i) => `let q_${i} = load_left(QS + sg * SM * TD + ${i * t.SK}u, TD);`), ...outs.map((j) => `var o_${j} = zero_result();`)],
    scores: () =>
      keys.flatMap((c) => [
        `{`,
        `  var sc = zero_result();`,
        ...dims.map((i) => `  sc = mma(q_${i}, load_right(KS + ${c * t.SN}u * TD + ${i * t.SK}u, TD), sc);`),
        `  store_result(sg * SM * RSS + ${c * t.SN}u, sc, RSS);`,
        `}`,
      ]),
    rescale: () => outs.flatMap((j) => [...throughStage(j, ['scale_rows(slot, sg, s.y, s.z);']), `if (mma_subgroup) {`, `  o_${j} = load_result(slot, RSO);`, `}`, `workgroupBarrier();`]),
    pv: () => outs.flatMap((j) => steps.map((k) => `o_${j} = mma(load_left(PS + sg * SM * TP + ${k * t.SK}u, TP), load_right_rows(VS + ${k * t.SK}u * TD + ${j * t.SN}u, TD), o_${j});`)),
    finish: () => outs.flatMap((j) => throughStage(j, [`store_rows(slot, sg, s.y, s.z, ${j}u, q0, n, outRow0, tiles);`])),
  });
}
