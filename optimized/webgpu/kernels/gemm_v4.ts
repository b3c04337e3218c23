// GEMM v4's shader source (gemm.ts launches it): gemm_v4.wgsl with its tile written in front as consts and its
// registers written out at its `// @name` lines, and the epilogue's memory access picked by N (whole vec4 where
// N % 4 == 0). One shader per tile, epilogue, split-K pass, dtypes and access: the name carries them, so the
// launcher's pipeline cache keeps one pipeline for each.
import activationSource from './activation.wgsl';
import accessSource from './gemm_access.wgsl';
import accessVec4Source from './gemm_access_vec4.wgsl';
import epilogueSource from './gemm_epilogue.wgsl';
import operandsSource from './gemm_operands.wgsl';
import v4Source from './gemm_v4.wgsl';
import { type Kernel, withGeneratedCode } from './launch.ts';
import { type DType, accessors, columnStore } from './storage.ts';
import type { GemmTile } from './tiles.ts';

/** Load groups (4 vec4 registers each) a v4 thread may hold: more only come with tiles of few threads. */
export const V4_MAX_LOADS = 2;

export interface V4Options {
  /** gemm_v2.wgsl's EPILOGUE number (3: GLU) */
  epilogue: number;
  /** split-K's first pass: raw sums into an f32 workspace */
  partial: boolean;
  dtypes: { x: DType; W: DType; y: DType };
  /** N % 4 == 0: the bias, residual and y as whole vec4 */
  aligned: boolean;
}

const kernels = new Map<string, Kernel>();

export function v4Kernel(t: GemmTile, o: V4Options): Kernel {
  const TN = t.TN ?? 4;
  const d = o.dtypes;
  const name = `gemm_v4_x${d.x}_w${d.W}_y${d.y}_e${o.epilogue}${o.partial ? '_partial' : ''}${o.aligned ? '_vec4' : ''}_${t.WG_M}x${t.WG_N}_tm${t.TM}_tn${TN}_tk${t.TK}`;
  let kernel = kernels.get(name);
  if (!kernel) {
    const consts = { EPILOGUE: o.epilogue, PARTIAL: o.partial ? 1 : 0, WG_M: t.WG_M, WG_N: t.WG_N, TM: t.TM, TN, TK: t.TK };
    const header = Object.entries(consts).map(([k, v]) => `const ${k}: u32 = ${v}u;\n`).join('');
    const operands = accessors({ name: 'x', dtype: d.x, width: 4 }, { name: 'W', dtype: d.W, width: 4 });
    const output = o.aligned ? accessors({ name: 'y', dtype: d.y, width: 4, write: true }) + accessVec4Source : columnStore('y', d.y) + accessSource;
    kernel = { name, source: operands + output + activationSource + epilogueSource + header + withV4Registers(v4Source, t, o.epilogue === 3) + operandsSource };
    kernels.set(name, kernel);
  }
  return kernel;
}

/** Load slots of a thread: the K step's x, W (and gate) groups over the threads. */
export function v4Loads(t: GemmTile, glu: boolean): number {
  const [BM, BN, TK4] = [t.WG_M * t.TM, t.WG_N * (t.TN ?? 4), t.TK / 4];
  return Math.ceil((((BM + (glu ? 2 : 1) * BN) / 4) * TK4) / (t.WG_M * t.WG_N));
}

/**
 * gemm_v4.wgsl with its registers written out at its `// @name` lines: the tile (acc_<r>_<j>: row r, column vec4
 * j; gacc_ for the GLU gate), the load slots (r<i>_<row>: slot i of a thread, 4 rows of one vec4 of K, of x, W or
 * the gate by the group's number), and the code that moves them: `prefetch(k)` (global to registers),
 * `stage(buffer)` (registers to shared memory, transposed and swizzled), `multiply` (the FMAs of one k) and
 * `finish` (the bias once per column vec4, then each row). Each slot's code holds only the branches its groups
 * can take (the group numbers of slot i are i * THREADS .. (i + 1) * THREADS - 1), so no thread loads past the tile.
 */
export function withV4Registers(source: string, t: GemmTile, glu: boolean): string {
  const range = (n: number) => [...Array(n).keys()];
  const TN = t.TN ?? 4;
  const [BM, BN, TK4, threads] = [t.WG_M * t.TM, t.WG_N * TN, t.TK / 4, t.WG_M * t.WG_N];
  const rows = range(t.TM);
  const columns = range(TN / 4);
  const slots = range(v4Loads(t, glu));
  const [xGroups, wGroups] = [(BM / 4) * TK4, (BN / 4) * TK4];
  // The operands a slot's groups can be: [name, first group, end] in group numbers.
  const operands: [string, number, number][] = [['x', 0, xGroups], ['W', xGroups, xGroups + wGroups], ...(glu ? [['gate', xGroups + wGroups, xGroups + 2 * wGroups] as [string, number, number]] : [])];
  const block = (lines: string[]) => ['{', ...lines.map((l) => `  ${l}`), '}'];
  // Slot i's code: `body` for each operand its groups (i * THREADS + tid) may belong to, in an if / else if chain on
  // the group number; the test is left out where every group left is the operand's (a slot of one operand: none).
  const perSlot = (body: (operand: string, i: number) => string[]) =>
    slots.flatMap((i) => {
      const [lo, hi] = [i * threads, (i + 1) * threads];
      const reached = operands.filter(([, first, end]) => first < hi && end > lo);
      const lines = [`let g = tid${lo ? ` + ${lo}u` : ''};`];
      let opened = false;
      reached.forEach(([operand, first, end], b) => {
        const test = b < reached.length - 1 || end < hi ? `g < ${end}u` : null;
        if (test) lines.push(`${opened ? '} else ' : ''}if (${test}) {`);
        else if (opened) lines.push('} else {');
        opened ||= test !== null;
        lines.push(...[`let h = g - ${first}u;`, ...body(operand, i)].map((l) => (opened ? `  ${l}` : l)));
      });
      if (opened) lines.push('}');
      return block(lines);
    });
  const a = (r: number) => `a${r >> 2}.${'xyzw'[r % 4]}`;
  const load: Record<string, (row: string, c: number) => string> = {
    x: (row, c) => `x_at(row0 + ${row} + ${c}u, col4, kEnd)`,
    W: (row, c) => `W_at(col0 + ${row} + ${c}u, p.N, col4, kEnd)`,
    gate: (row, c) => `W_at(p.N + col0 + ${row} + ${c}u, 2u * p.N, col4, kEnd)`,
  };
  const shared: Record<string, [string, string, number]> = { x: ['xs', 'XS_STEP', BM / 4], W: ['ws', 'WS_STEP', BN / 4], gate: ['gs', 'WS_STEP', BN / 4] };
  const parts: Record<string, (arg: string) => string[]> = {
    registers: () => [
      ...rows.flatMap((r) => columns.map((j) => `acc_${r}_${j}`)),
      ...(glu ? rows.flatMap((r) => columns.map((j) => `gacc_${r}_${j}`)) : []),
      ...slots.flatMap((i) => range(4).map((c) => `r${i}_${c}`)),
    ].map((v) => `var ${v} = vec4f(0.0);`),
    // Group h of an operand: rows 4 (h / TK4) .. + 3 of the tile, vec4 column h % TK4 of the K step at k.
    prefetch: (k) => perSlot((operand, i) => [`let row = 4u * (h / TK4);`, `let col4 = ${k} + h % TK4;`, ...range(4).map((c) => `r${i}_${c} = ${load[operand]('row', c)};`)]),
    // Transposed: k-row 4 (h % TK4) + c gets the vec4 of the group's 4 rows at its k c, in column swizzle(h / TK4, k).
    stage: (buffer) =>
      perSlot((operand, i) => {
        const [array, step, width] = shared[operand];
        return [
          `let k = 4u * (h % TK4);`,
          `let at = (${buffer}) * ${step} + k * ${width}u + swizzle(h / TK4, k);`,
          ...range(4).map((c) => `${array}[at${c ? ` + ${c * width}u` : ''}] = vec4f(${range(4).map((r) => `r${i}_${r}.${'xyzw'[c]}`).join(', ')});`),
        ];
      }),
    multiply: () => [
      `let sw = swizzle(0u, kk);`,
      ...range(t.TM / 4).map((r4) => `let a${r4} = xs[xBase + kk * ${BM / 4}u + ((lid.y * ${t.TM / 4}u + ${r4}u) ^ sw)];`),
      ...columns.flatMap((j) => [
        `let w${j} = ws[wBase + kk * ${BN / 4}u + ((${j * t.WG_N}u + lid.x) ^ sw)];`,
        ...rows.map((r) => `acc_${r}_${j} += ${a(r)} * w${j};`),
        ...(glu ? [`let g${j} = gs[wBase + kk * ${BN / 4}u + ((${j * t.WG_N}u + lid.x) ^ sw)];`, ...rows.map((r) => `gacc_${r}_${j} += ${a(r)} * g${j};`)] : []),
      ]),
    ],
    finish: () =>
      columns.flatMap((j) => [
        `let n${j} = col0 + ${j * t.WG_N * 4}u + lid.x * 4u;`,
        `let b${j} = column_bias(n${j}, 0u);`,
        ...(glu ? [`let gb${j} = column_bias(n${j}, p.N);`] : []),
        ...rows.map((r) => `write_out(acc_${r}_${j} + b${j}, ${glu ? `gacc_${r}_${j} + gb${j}` : 'vec4f(0.0)'}, row0 + lid.y * ${t.TM}u + ${r}u, n${j}, wg.z);`),
      ]),
  };
  return withGeneratedCode(source, 'gemm_v4.wgsl', parts);
}
