// Launcher for the GEMMs: gemm_v4.wgsl, the default (double-buffered shared tiles, 8 x 8 register tiles as named
// variables, conflict-free staging, a vec4 epilogue; its source is assembled in gemm_v4.ts), gemm_sgmat.wgsl
// (subgroup matrices: tensor cores, x and W rounded to f16; assembled in gemm_sgmat.ts), gemm_v3.wgsl (2D
// register tiles of TM x TN outputs, register prefetch; its tile written into the source as consts and its
// registers written out as named variables, withRegisterTile), gemm_v2.wgsl (vec4, register tiles of TM x 4
// outputs; its tile as override constants), gemm_v1.wgsl (the first tiled kernel) and gemm_naive.wgsl (one thread per output). v2, v3 and v4 can split K (a
// tile's splitK): slices of K summed by their own workgroups into an f32 workspace, then added up and finished by
// gemm_reduce.wgsl.
import activationSource from './activation.wgsl';
import accessSource from './gemm_access.wgsl';
import epilogueSource from './gemm_epilogue.wgsl';
import naiveSource from './gemm_naive.wgsl';
import operandsSource from './gemm_operands.wgsl';
import v1Source from './gemm_v1.wgsl';
import v2Source from './gemm_v2.wgsl';
import v3Source from './gemm_v3.wgsl';
import reduceSource from './gemm_reduce.wgsl';
import { V4_MAX_LOADS, v4Kernel, v4Loads } from './gemm_v4.ts';
import { EMULATED_SUBGROUP, type PackedWeights, isPacked, packSgmatWeights, packedSize, sgmatKernel, sgmatWorkgroupBytes } from './gemm_sgmat.ts';
import { type Kernel, type Launcher, MAX_GRID, grid, withGeneratedCode } from './launch.ts';
import { type DType, accessors, bytesOf, columnStore, encode } from './storage.ts';
import { type AnyGemmTile, type Epilogue, type GemmTile, MAX_SPLIT_K, type SgmatTile, sgmatTileProblem, sgmatTileShape } from './tiles.ts';
import type { Activation } from '../../../reference/config.ts';

export type { AnyGemmTile, Epilogue, GemmChoice, GemmTile, SgmatTile } from './tiles.ts';
export { type PackedWeights, packSgmatWeights, packedSize, sgmatKernel, sgmatWorkgroupBytes } from './gemm_sgmat.ts';
export { sgmatTileProblem } from './tiles.ts';
export { MAX_SPLIT_K } from './tiles.ts';

// The epilogue as v2, v3, sgmat and the reduction run it: bias and residual read value by value.
const EPILOGUE_SOURCE = accessSource + epilogueSource;
const EPILOGUE: Record<Epilogue, number> = { none: 0, residual: 1, activation: 2, glu: 3 };
const ACTIVATION: Record<Activation, number> = { gelu: 0, gelu_tanh: 1, silu: 2, relu: 3 };

export type GemmVariant = 'sgmat' | 'v4' | 'v3' | 'v2' | 'v1' | 'naive';
type TiledVariant = 'v4' | 'v3' | 'v2';
const isTiled = (v: GemmVariant | undefined): v is TiledVariant => v === 'v4' || v === 'v3' || v === 'v2';

const F32 = { x: 'f32', W: 'f32', y: 'f32' } as const;

export interface GemmShape {
  /** rows of x (tokens) */
  M: number;
  /** output features (for GLU: I, while W has 2I rows) */
  N: number;
  K: number;
  epilogue: Epilogue;
  /** the activation of the activation and glu epilogues (default gelu) */
  activation?: Activation;
  /** storage of x, W and y (default f32; f16 needs v2, v3, v4 or sgmat, and N even for an f16 y; sgmat's W is packed f16 whatever W says); bias and residual are f32 */
  dtypes?: { x: DType; W: DType; y: DType };
}

/** v4's default: 128 x 128 outputs per workgroup, 8 x 8 a thread, for grids large enough to fill a big GPU. */
export const V4_LARGE_TILE: GemmTile = { kernel: 'v4', WG_M: 16, WG_N: 16, TM: 8, TN: 8, TK: 16 };
/** 128 x 64: twice the workgroups where the large tile would leave a big GPU idle. */
export const V4_SMALL_TILE: GemmTile = { ...V4_LARGE_TILE, TN: 4 };
/** GLU: a value and a gate tile of 128 x 64 (8 x 4 a thread each), or 64 x 64 (4 x 4) for small grids. */
export const V4_GLU_LARGE_TILE: GemmTile = V4_SMALL_TILE;
export const V4_GLU_SMALL_TILE: GemmTile = { ...V4_LARGE_TILE, TM: 4, TN: 4 };
/** v2's (and v3's) defaults: 128 x 64 outputs per workgroup for big grids, 64 x 64 for small ones. */
export const LARGE_TILE: GemmTile = { WG_M: 16, WG_N: 16, TM: 8, TK: 16 };
export const SMALL_TILE: GemmTile = { WG_M: 16, WG_N: 16, TM: 4, TK: 16 };
/** About two waves on a 132-SM GPU: below this many large-tile workgroups the small tile is the default. */
const FILLING_WORKGROUPS = 256;

export interface GemmArgs extends GemmShape {
  x: GPUBuffer;
  /** W [N, K] (GLU [2N, K]) row-major, or packed for sgmat (packWeights), which runs sgmat */
  W: GPUBuffer | PackedWeights;
  bias: GPUBuffer | null;
  residual?: GPUBuffer | null;
  y: GPUBuffer;
  /** default: the tile's kernel (v1 when K % 4 != 0, which the vec4 loads of v2, v3 and v4 cannot read) */
  variant?: GemmVariant;
  /** v2, v3 and v4: the tile (default: defaultTile(shape)); a tile of another kernel than an explicit variant is
   *  replaced by that variant's default tile. sgmat: its shape (default: the adapter's first f16 -> f32 configuration) */
  tile?: AnyGemmTile;
  /** the tuning's choice for this shape (tuning.ts), taken where no tile is given and the device can run it */
  tuned?: AnyGemmTile | null;
}

export function run(l: Launcher, a: GemmArgs): void {
  const work = { flops: flops(a), bytes: bytes(a) };
  if (a.epilogue === 'residual' && !a.residual) throw new Error('gemm: the residual epilogue needs a residual buffer');
  const dtypes = a.dtypes ?? F32;
  const limit = workgroupLimit(l);
  const chosen = tileFor(l, a, isTiled(a.variant) ? a.variant : undefined, a.tile, a.tuned);
  if (isPacked(a.W)) {
    if (a.variant !== undefined && a.variant !== 'sgmat') throw new Error(`gemm ${a.variant}: W is packed for sgmat; ${a.variant} reads it as stored`);
    // the explicit tile, else the tuned one where it has the packed fragments' shape, else the default
    const fits = chosen.kernel === 'sgmat' && (a.tile !== undefined || (chosen.SN === a.W.SN && chosen.SK === a.W.SK));
    const tile = fits ? chosen : defaultSgmatTile(l, a);
    runSgmat(l, a, a.W, tile, [a.x, a.W.buffer, a.bias ?? l.absent.bias, a.residual ?? l.absent.residual, a.y], work);
    return;
  }
  if (a.variant === 'sgmat' || (a.variant === undefined && chosen.kernel === 'sgmat')) throw new Error(`gemm sgmat: W must be packed (gemm.packWeights), not a plain buffer`);
  const buffers = [a.x, a.W, a.bias ?? l.absent.bias, a.residual ?? l.absent.residual, a.y];
  const tile = chosen.kernel === 'sgmat' ? defaultTile(a, limit) : chosen; // v1 or naive asked for where sgmat was tuned
  const variant = a.variant ?? (a.K % 4 === 0 ? (tile.kernel ?? 'v2') : 'v1');
  const f16 = Object.values(dtypes).includes('f16');
  if (f16 && !isTiled(variant)) throw new Error(`gemm: f16 storage needs v2, v3 or v4 (${variant} reads f32 only${a.K % 4 ? `; K = ${a.K} is not a multiple of 4` : ''})`);
  if (dtypes.y === 'f16' && a.N % 2) throw new Error(`gemm: an f16 output needs N even (N = ${a.N})`);
  const params: ['u32', number][] = [['u32', a.M], ['u32', a.N], ['u32', a.K], ['u32', a.bias ? 1 : 0]];
  if (variant === 'naive') {
    if (a.epilogue === 'activation' || a.epilogue === 'glu') throw new Error(`gemm: the naive variant has no ${a.epilogue} epilogue`);
    l.dispatch({ name: 'gemm_naive', source: naiveSource }, {}, buffers, [...params, ['u32', a.epilogue === 'residual' ? 1 : 0]], [Math.ceil(a.N / 64), ...grid(a.M)], work);
    return;
  }
  if (variant === 'v1') {
    if (a.M > 64 * MAX_GRID) throw new Error(`gemm: ${a.M} rows exceed the grid`);
    l.dispatch({ name: 'gemm_v1', source: activationSource + v1Source }, { EPILOGUE: EPILOGUE[a.epilogue], ACTIVATION: ACTIVATION[a.activation ?? 'gelu'] }, buffers, params, [Math.ceil(a.N / 64), Math.ceil(a.M / 64)], work);
    return;
  }
  if (a.K % 4 !== 0) throw new Error(`gemm ${variant}: K = ${a.K} is not a multiple of 4 (its vec4 loads need it); use v1`);
  validateTile(tile, a.epilogue, l.ctx?.device.limits.maxComputeInvocationsPerWorkgroup ?? 256);
  if (workgroupBytes(tile, a.epilogue) > limit) throw new Error(`gemm ${variant}: tile ${tileName(tile)} needs ${workgroupBytes(tile, a.epilogue)} bytes of workgroup memory; this device allows ${limit}`);
  const [BM, BN] = [tile.WG_M * tile.TM, tile.WG_N * (tile.TN ?? 4)];
  if (Math.ceil(a.M / BM) > MAX_GRID) throw new Error(`gemm: ${a.M} rows exceed the grid`);
  const { slices, kSlice4 } = kSlices(a.K, tile);
  const grid3d: [number, number, number] = [Math.ceil(a.N / BN), Math.ceil(a.M / BM), slices];
  const activation = ACTIVATION[a.activation ?? 'gelu'];
  // The tiled kernel and its constants; `partial`: split-K's first pass, raw sums into an f32 workspace.
  const tiled = (partial: boolean): [Kernel, Record<string, number>] => {
    const d = partial ? { ...dtypes, y: 'f32' as const } : dtypes;
    if (variant === 'v4') return [v4Kernel(tile, { epilogue: EPILOGUE[a.epilogue], partial, dtypes: d, aligned: a.N % 4 === 0 }), { ACTIVATION: activation }];
    if (variant === 'v3') return [v3Kernel(tile, a.epilogue, partial, d), { ACTIVATION: activation }];
    const kernel = { name: `gemm_v2_x${d.x}_w${d.W}_y${d.y}`, source: storageSource(d) + activationSource + EPILOGUE_SOURCE + v2Source };
    return [kernel, { EPILOGUE: EPILOGUE[a.epilogue], PARTIAL: partial ? 1 : 0, ACTIVATION: activation, WG_M: tile.WG_M, WG_N: tile.WG_N, TM: tile.TM, TK: tile.TK }];
  };
  if (slices === 1) {
    l.dispatch(...tiled(false), buffers, [...params, ['u32', kSlice4]], grid3d, work);
    return;
  }
  // Split-K: each slice's raw sums into the workspace, then gemm_reduce.wgsl adds them up and finishes.
  const width = a.epilogue === 'glu' ? 2 * a.N : a.N;
  const partialBytes = slices * a.M * width * 4;
  const inputBytes = a.M * a.K * bytesOf(dtypes.x) + width * a.K * bytesOf(dtypes.W);
  const partials = l.pool.storage(partialBytes, 'gemm.partials');
  const partialParams: ['u32', number][] = [['u32', a.M], ['u32', a.N], ['u32', a.K], ['u32', 0], ['u32', kSlice4]];
  l.dispatch(...tiled(true), [a.x, a.W, l.absent.bias, l.absent.residual, partials], partialParams, grid3d, { flops: work.flops, bytes: inputBytes + partialBytes });
  const reduce = { name: `gemm_reduce_y${dtypes.y}`, source: columnStore('y', dtypes.y) + activationSource + EPILOGUE_SOURCE + reduceSource };
  const reduceParams: ['u32', number][] = [['u32', a.M], ['u32', a.N], ['u32', slices], ['u32', a.bias ? 1 : 0]];
  const reduceWork = { flops: slices * a.M * width, bytes: partialBytes + work.bytes - inputBytes };
  l.dispatch(reduce, { EPILOGUE: EPILOGUE[a.epilogue], ACTIVATION: activation }, [partials, a.bias ?? l.absent.bias, a.residual ?? l.absent.residual, a.y], reduceParams, grid(Math.ceil((a.M * Math.ceil(a.N / 4)) / REDUCE_THREADS)), reduceWork);
  l.pool.release(partials);
}

/** gemm_reduce.wgsl's workgroup: one thread per 4 columns of a row. */
const REDUCE_THREADS = 64;

/**
 * How a tile splits K: `slices` workgroups along z, each summing kSlice4 vec4s of K (a whole number of TK steps),
 * the last one the rest. The tile's splitK is an upper bound: a short K gets fewer slices, never an empty one.
 */
export function kSlices(K: number, t: GemmTile): { slices: number; kSlice4: number } {
  const [K4, TK4] = [K / 4, t.TK / 4];
  const kSlice4 = Math.max(1, Math.ceil(Math.ceil(K4 / (t.splitK ?? 1)) / TK4)) * TK4;
  return { slices: Math.max(1, Math.ceil(K4 / kSlice4)), kSlice4 };
}

function storageSource(d: { x: DType; W: DType; y: DType }): string {
  return accessors({ name: 'x', dtype: d.x, width: 4 }, { name: 'W', dtype: d.W, width: 4 }) + columnStore('y', d.y);
}

// One v3 shader per tile, epilogue and dtypes: they are `const`s written in front of the source (see
// gemm_v3.wgsl), and the name carries them so the launcher's pipeline cache keeps one pipeline for each.
const v3Kernels = new Map<string, Kernel>();
function v3Kernel(t: GemmTile, epilogue: Epilogue, partial: boolean, d: { x: DType; W: DType; y: DType }): Kernel {
  const consts = { EPILOGUE: EPILOGUE[epilogue], PARTIAL: partial ? 1 : 0, WG_M: t.WG_M, WG_N: t.WG_N, TM: t.TM, TN: t.TN ?? 4, TK: t.TK };
  const name = `gemm_v3_x${d.x}_w${d.W}_y${d.y}_${epilogue}${partial ? '_partial' : ''}_${t.WG_M}x${t.WG_N}_tm${consts.TM}_tn${consts.TN}_tk${t.TK}`;
  let kernel = v3Kernels.get(name);
  if (!kernel) {
    const header = Object.entries(consts).map(([k, v]) => `const ${k}: u32 = ${v}u;\n`).join('');
    kernel = { name, source: storageSource(d) + activationSource + EPILOGUE_SOURCE + header + withRegisterTile(v3Source, t, epilogue === 'glu') + operandsSource };
    v3Kernels.set(name, kernel);
  }
  return kernel;
}

/**
 * Load groups a v3 thread holds per operand: each is 4 vec4 registers beside the tile (8 for W with GLU), and more
 * rounds only come with tiles of few threads (SwiftShader took over 5 minutes to compile a tile of 16 threads with 4).
 */
const V3_MAX_LOADS = 2;

/**
 * gemm_v3.wgsl with its registers written out at its `// @name` lines: the tile (acc_<r>_<j>: row r, column vec4
 * j; gacc_ for the GLU gate), the K step's load groups (xr<i>_<row>, wr and gr: group i of a thread, 4 rows of
 * one vec4 of K), and the code that moves them: `prefetch(k)` (global to registers), `stage` (registers to
 * shared memory, transposed), `multiply` (the FMAs of one k) and `finish`. No private array, no loop over
 * registers: keeping them in registers does not depend on the driver unrolling anything.
 */
export function withRegisterTile(source: string, t: GemmTile, glu: boolean): string {
  const range = (n: number) => [...Array(n).keys()];
  const [BM, BN, TK4, threads] = [t.WG_M * t.TM, t.WG_N * (t.TN ?? 4), t.TK / 4, t.WG_M * t.WG_N];
  const rows = range(t.TM);
  const columns = range((t.TN ?? 4) / 4);
  const xLoads = range(Math.ceil(((BM / 4) * TK4) / threads));
  const wLoads = range(Math.ceil(((BN / 4) * TK4) / threads));
  const tile = (prefix: string) => rows.flatMap((r) => columns.map((j) => `${prefix}_${r}_${j}`));
  const group = (prefix: string, loads: number[]) => loads.flatMap((i) => range(4).map((c) => `${prefix}${i}_${c}`));
  const block = (lines: string[]) => ['{', ...lines.map((l) => `  ${l}`), '}'];
  const a = (r: number) => `a${r >> 2}.${'xyzw'[r % 4]}`;
  // Group i of this thread: e, its first row (of the tile) and vec4 column.
  const groupAt = (i: number, k: string) => [`let e = tid + ${i}u * THREADS;`, `let row = 4u * (e / TK4);`, `let col4 = ${k} + e % TK4;`];
  const prefetch = (k: string) => [
    ...xLoads.flatMap((i) => block([...groupAt(i, k), ...range(4).map((c) => `xr${i}_${c} = x_at(row0 + row + ${c}u, col4, kEnd);`)])),
    ...wLoads.flatMap((i) =>
      block([
        ...groupAt(i, k),
        ...range(4).map((c) => `wr${i}_${c} = W_at(col0 + row + ${c}u, p.N, col4, kEnd);`),
        ...(glu ? range(4).map((c) => `gr${i}_${c} = W_at(p.N + col0 + row + ${c}u, 2u * p.N, col4, kEnd);`) : []),
      ]),
    ),
  ];
  // Group i's 4 rows, transposed: one vec4 of rows per k, at tile[(4 kq + c) * stride + row / 4].
  const transposed = (shared: string, stride: string, prefix: string, i: number) =>
    range(4).map((c) => `${shared}[at${c ? ` + ${c}u * ${stride}` : ''}] = vec4f(${range(4).map((r) => `${prefix}${i}_${r}.${'xyzw'[c]}`).join(', ')});`);
  const stage = (loads: number[], groups: string, stride: string, tiles: [string, string][]) =>
    loads.flatMap((i) =>
      block([
        `let e = tid + ${i}u * THREADS;`,
        `if (e < ${groups}) {`,
        `  let at = 4u * (e % TK4) * ${stride} + e / TK4;`,
        ...tiles.flatMap(([shared, prefix]) => transposed(shared, stride, prefix, i).map((l) => `  ${l}`)),
        '}',
      ]),
    );
  const parts: Record<string, (arg: string) => string[]> = {
    registers: () => [...tile('acc'), ...(glu ? tile('gacc') : []), ...group('xr', xLoads), ...group('wr', wLoads), ...(glu ? group('gr', wLoads) : [])].map((v) => `var ${v} = vec4f(0.0);`),
    prefetch,
    stage: () => [...stage(xLoads, 'X_GROUPS', 'XS_STRIDE', [['xs', 'xr']]), ...stage(wLoads, 'W_GROUPS', 'WS_STRIDE', glu ? [['ws', 'wr'], ['gs', 'gr']] : [['ws', 'wr']])],
    multiply: () => [
      ...range(t.TM / 4).map((r4) => `let a${r4} = xs[kk * XS_STRIDE + lid.y * ${t.TM / 4}u + ${r4}u];`),
      ...columns.flatMap((j) => [
        `let w${j} = ws[kk * WS_STRIDE + ${j}u * WG_N + lid.x];`,
        ...rows.map((r) => `acc_${r}_${j} += ${a(r)} * w${j};`),
        ...(glu ? [`let g${j} = gs[kk * WS_STRIDE + ${j}u * WG_N + lid.x];`, ...rows.map((r) => `gacc_${r}_${j} += ${a(r)} * g${j};`)] : []),
      ]),
    ],
    finish: () => columns.flatMap((j) => rows.map((r) => `write_out(acc_${r}_${j}, ${glu ? `gacc_${r}_${j}` : 'vec4f(0.0)'}, row0 + lid.y * TM + ${r}u, col0 + ${j}u * WG_N * 4u + lid.x * 4u, wg.z);`)),
  };
  return withGeneratedCode(source, 'gemm_v3.wgsl', parts);
}

/** The matrix shapes in the order the engine prefers them: 16 x 16 x 16 (NVIDIA, AMD), then the rest as listed. */
const PREFERRED_SHAPES = ['16x16x16', '8x16x16', '8x8x8'];

/** The adapter's preferred f16 x f16 -> f32 subgroup-matrix shape, else an emulated 16 x 16 x 16. */
export function matrixShape(l: Launcher): { SM: number; SN: number; SK: number; emulated?: true } {
  return preferredMatrixShape(l.ctx?.subgroupMatrix?.configs ?? []);
}

/** The first of the configurations in the engine's order of preference, else an emulated 16 x 16 x 16. */
export function preferredMatrixShape(configs: readonly { M: number; N: number; K: number }[]): { SM: number; SN: number; SK: number; emulated?: true } {
  const rank = (c: { M: number; N: number; K: number }) => {
    const i = PREFERRED_SHAPES.indexOf(`${c.M}x${c.N}x${c.K}`);
    return i < 0 ? PREFERRED_SHAPES.length : i;
  };
  const c = [...configs].sort((a, b) => rank(a) - rank(b))[0];
  return c ? { SM: c.M, SN: c.N, SK: c.K } : { SM: 16, SN: 16, SK: 16, emulated: true };
}

/** The subgroup-matrix tile for a shape: matrixShape's, 128 x 128 where that grid fills the GPU, else 64 rows of x. */
export function defaultSgmatTile(l: Launcher, s?: Pick<GemmShape, 'M' | 'N' | 'epilogue'>): SgmatTile {
  const shape: SgmatTile = { kernel: 'sgmat', ...matrixShape(l) };
  if (!s) return shape;
  const outputs = s.epilogue === 'glu' ? 64 : 128;
  return Math.ceil(s.M / 128) * Math.ceil(s.N / outputs) >= FILLING_WORKGROUPS ? shape : { ...shape, BM: 64 };
}

function hasMatrixShape(l: Launcher, t: SgmatTile): boolean {
  return l.ctx?.subgroupMatrix?.configs.some((c) => c.M === t.SM && c.N === t.SN && c.K === t.SK) ?? false;
}

/**
 * Uploads W [N, K] (GLU: [2N, K]) packed for the sgmat GEMM, in fragments of the adapter's preferred matrix shape
 * (or `shape`); f16, with the padding packedSize gives.
 */
export function packWeights(l: Launcher, W: ArrayLike<number>, s: Pick<GemmShape, 'N' | 'K' | 'epilogue'>, label: string, shape: { SN: number; SK: number } = matrixShape(l)): PackedWeights {
  const glu = s.epilogue === 'glu';
  const buffer = l.upload(encode(packSgmatWeights(W, s.N, s.K, glu, shape), 'f16'), label, 'weight');
  return { buffer, SN: shape.SN, SK: shape.SK, N: s.N, K: s.K, glu };
}

function runSgmat(l: Launcher, a: GemmArgs, W: PackedWeights, t: SgmatTile, buffers: GPUBuffer[], work: { flops: number; bytes: number }): void {
  const d = a.dtypes ?? F32;
  const glu = a.epilogue === 'glu';
  const where = `gemm ${tileName(t)}`;
  if (W.N !== a.N || W.K !== a.K || W.glu !== glu) throw new Error(`${where}: W was packed as ${W.glu ? 'GLU ' : ''}[${W.N}, ${W.K}], not for this ${glu ? 'GLU ' : ''}N = ${a.N}, K = ${a.K}`);
  if (W.SN !== t.SN || W.SK !== t.SK) throw new Error(`${where}: W was packed in ${W.SN} x ${W.SK} fragments, not the tile's ${t.SN} x ${t.SK}`);
  if (a.K % 4 !== 0) throw new Error(`${where}: K = ${a.K} is not a multiple of 4 (its tile loads read 4 values)`);
  if (d.y === 'f16' && a.N % 2) throw new Error(`${where}: an f16 output needs N even (N = ${a.N})`);
  const problem = sgmatTileProblem(t, glu);
  if (problem) throw new Error(`${where}: ${problem}`);
  const sm = l.ctx?.subgroupMatrix;
  if (!t.emulated && !hasMatrixShape(l, t)) {
    throw new Error(`${where}: ${sm ? `the adapter has no f16 -> f32 ${t.SM}x${t.SN}x${t.SK} configuration (it has ${sm.configs.map((c) => `${c.M}x${c.N}x${c.K}`).join(', ') || 'none'})` : `no subgroup matrices on this device (${l.ctx?.subgroupMatrixReason ?? 'no device'})`}; use emulated: true to test the kernel`);
  }
  const threads = 4 * (t.emulated ? EMULATED_SUBGROUP : sm!.subgroupMaxSize);
  const bytes = sgmatWorkgroupBytes(t, glu);
  if (bytes > workgroupLimit(l)) throw new Error(`${where}: needs ${bytes} bytes of workgroup memory; this device allows ${workgroupLimit(l)}`);
  const { BM, BW } = sgmatTileShape(t);
  if (Math.ceil(a.M / BM) > MAX_GRID) throw new Error(`gemm: ${a.M} rows exceed the grid`);
  const packed = packedSize(a.N, a.K, glu);
  const params: ['u32', number][] = [['u32', a.M], ['u32', a.N], ['u32', a.K], ['u32', a.bias ? 1 : 0], ['u32', packed.K / t.SK], ['u32', packed.rows]];
  const grid2d: [number, number] = [Math.ceil(a.N / (glu ? BW / 2 : BW)), Math.ceil(a.M / BM)];
  l.dispatch(sgmatKernel(t, { epilogue: EPILOGUE[a.epilogue], threads, dtypes: { x: d.x, y: d.y } }), { ACTIVATION: ACTIVATION[a.activation ?? 'gelu'] }, buffers, params, grid2d, work);
}

// Planning (no device) dispatches nothing; WebGPU's default limits stand in for the device's.
function workgroupLimit(l: Launcher): number {
  return l.ctx?.device.limits.maxComputeWorkgroupStorageSize ?? 16384;
}

/**
 * The tile run() uses for a shape: the explicit one, else the tuned choice, else defaultTile; where a kernel is
 * asked for and the tile is another kernel's, that kernel's default tile.
 */
export function tileFor(l: Launcher, s: GemmShape, kernel?: TiledVariant, explicit?: AnyGemmTile, tuned?: AnyGemmTile | null): AnyGemmTile {
  // a subgroup-matrix shape tuned for this adapter, on a device made without subgroup matrices: the defaults
  const runnable = tuned?.kernel === 'sgmat' && !hasMatrixShape(l, tuned) ? null : tuned;
  const tile = explicit ?? runnable ?? defaultTile(s, workgroupLimit(l));
  return kernel && (tile.kernel ?? 'v2') !== kernel ? defaultTile(s, workgroupLimit(l), kernel) : tile;
}

/**
 * The kernel's large tile when its grid has enough workgroups to fill a big GPU, else its small one; TK halves
 * where the tile would not fit the device's workgroup memory (v4's 128 x 128 needs 32 KiB at TK 16: 8 on a device
 * of WebGPU's default 16 KiB).
 */
export function defaultTile(s: Pick<GemmShape, 'M' | 'N' | 'epilogue'>, workgroupStorageBytes = 16384, kernel: TiledVariant = 'v4'): GemmTile {
  const glu = s.epilogue === 'glu';
  const [large, small] = kernel === 'v4' ? (glu ? [V4_GLU_LARGE_TILE, V4_GLU_SMALL_TILE] : [V4_LARGE_TILE, V4_SMALL_TILE]) : [LARGE_TILE, SMALL_TILE];
  let tile = fillsGpu(s, large) ? large : small;
  if (kernel === 'v3') tile = { ...tile, kernel };
  while (workgroupBytes(tile, s.epilogue) > workgroupStorageBytes && tile.TK > 4) tile = { ...tile, TK: tile.TK / 2 };
  return tile;
}

/** Whether a tile's grid for this shape has the workgroups to fill a big GPU (without splitting K). */
export function fillsGpu(s: Pick<GemmShape, 'M' | 'N'>, t: GemmTile): boolean {
  return Math.ceil(s.M / (t.WG_M * t.TM)) * Math.ceil(s.N / (t.WG_N * (t.TN ?? 4))) >= FILLING_WORKGROUPS;
}

/** Workgroup memory of a tile, as the headers of gemm_v2.wgsl, gemm_v3.wgsl and gemm_v4.wgsl compute it. */
export function workgroupBytes(t: GemmTile, epilogue: Epilogue): number {
  const tiles = epilogue === 'glu' ? 2 : 1;
  if (t.kernel === 'v4') return 2 * t.TK * (t.WG_M * t.TM + tiles * t.WG_N * (t.TN ?? 4)) * 4; // double-buffered, unpadded
  const xs = t.TK * ((t.WG_M * t.TM) / 4 + 1) * 16;
  const ws = t.TK * ((t.WG_N * (t.TN ?? 4)) / 4 + 1) * 16;
  return xs + ws * tiles;
}

export function tileName(t: AnyGemmTile): string {
  if (t.kernel === 'sgmat') {
    const { BM, BW, TK } = sgmatTileShape(t);
    return `sgmat ${t.SM}x${t.SN}x${t.SK} ${BM}x${BW}/tk${TK}${t.emulated ? ' emulated' : ''}`;
  }
  const split = (t.splitK ?? 1) > 1 ? `/sk${t.splitK}` : '';
  return (t.kernel === 'v3' || t.kernel === 'v4' ? `${t.kernel} ${t.WG_M}x${t.WG_N}/tm${t.TM}/tn${t.TN ?? 4}/tk${t.TK}` : `${t.WG_M}x${t.WG_N}/tm${t.TM}/tk${t.TK}`) + split;
}

/** Why a tile cannot run this epilogue with this many threads a workgroup, or null. */
export function tileProblem(t: GemmTile, epilogue: Epilogue, maxThreads: number): string | null {
  const kernel = t.kernel ?? 'v2';
  const TN = t.TN ?? 4;
  if (t.TM !== 4 && t.TM !== 8) return `TM = ${t.TM} must be 4 or 8`;
  if (TN !== 4 && (kernel === 'v2' || TN !== 8)) return `TN = ${t.TN} must be 4${kernel === 'v2' ? ' (v2 computes 4 columns a thread)' : ' or 8'}`;
  if (!(t.TK >= 4 && t.TK % 4 === 0)) return `TK = ${t.TK} must be a positive multiple of 4`;
  if (!(Number.isInteger(t.splitK ?? 1) && (t.splitK ?? 1) >= 1 && (t.splitK ?? 1) <= MAX_SPLIT_K)) return `splitK = ${t.splitK} must be an integer from 1 to ${MAX_SPLIT_K}`;
  if (!(t.WG_M >= 1 && t.WG_N >= 1 && t.WG_M * t.WG_N <= maxThreads)) return `${t.WG_M} x ${t.WG_N} threads: this device allows ${maxThreads} per workgroup`;
  // v3 spreads each tile's load groups (4 vec4 registers each) over the threads in at most V3_MAX_LOADS rounds.
  const groups = (t.WG_M * t.TM * t.TK) / 16;
  if (kernel === 'v3' && Math.max(groups, (t.WG_N * TN * t.TK) / 16) > V3_MAX_LOADS * t.WG_M * t.WG_N) return `tile ${tileName(t)} needs more than ${V3_MAX_LOADS} loads a thread`;
  if (kernel === 'v4') {
    if ((t.WG_M * t.TM) % 32 || (t.WG_N * TN) % 32) return `tile ${tileName(t)}: its ${t.WG_M * t.TM} x ${t.WG_N * TN} outputs must be multiples of 32 each way (the swizzle of the shared tiles)`;
    if (v4Loads(t, epilogue === 'glu') > V4_MAX_LOADS) return `tile ${tileName(t)} needs more than ${V4_MAX_LOADS} loads a thread`;
    if (epilogue === 'glu' && t.TM * TN > 32) return `tile ${tileName(t)}: with GLU a thread holds a value and a gate tile, at most 32 outputs each (TM x TN); use TN 4`;
  }
  return null;
}

function validateTile(t: GemmTile, epilogue: Epilogue, maxThreads: number): void {
  const problem = tileProblem(t, epilogue, maxThreads);
  if (problem) throw new Error(`gemm ${t.kernel ?? 'v2'}: ${problem}`);
}

export function flops(s: GemmShape): number {
  return 2 * s.M * s.N * s.K * (s.epilogue === 'glu' ? 2 : 1);
}

/** Compulsory traffic: x and W read once, y written once (and the f32 residual read). */
export function bytes(s: GemmShape): number {
  const d = s.dtypes ?? F32;
  const wRows = s.epilogue === 'glu' ? 2 * s.N : s.N;
  return s.M * s.K * bytesOf(d.x) + wRows * s.K * bytesOf(d.W) + s.M * s.N * bytesOf(d.y) + (s.epilogue === 'residual' ? 4 * s.M * s.N : 0);
}
