// `modernbert crosscheck`: the stress shapes of evals/golden.ts, built in memory from a checkpoint folder with
// the fp64 reference as the oracle, run on each backend through evaluateParity (the contract of `parity`).
// One row per shape and backend: max and mean absolute error per output, non-finite values, pass.
import type { ForwardOutput } from '../reference/modernbert.ts';
import { type CheckpointFolder, GoldenInputError, type StressShape, oracleIo, randomTokenSequences, specialTokenIds, stressShapes } from './golden.ts';
import { type GoldenCase, type Runner, type StorageName, evaluateParity, parityRunner } from './parity-check.ts';

/** A backend as `--backends` names it: a parity backend, with ":f16" for f16 storage (webgpu). */
export interface CrosscheckBackend {
  name: string;
  backend: string;
  dtype?: StorageName;
}

/** "webgpu:f16" -> {backend: "webgpu", dtype: "f16"}; "gpujs:webasm" stays a backend. Unknown names are bad input. */
export function parseCrosscheckBackend(name: string): CrosscheckBackend {
  const m = /^(.+?)(?::(f16|f32))?$/.exec(name.trim());
  const backend = m?.[1] ?? '';
  try {
    parityRunner(backend);
  } catch (e) {
    throw new GoldenInputError(`--backends: ${(e as Error).message}`);
  }
  const dtype = m?.[2] as StorageName | undefined;
  if (dtype === 'f16' && backend !== 'webgpu') throw new GoldenInputError(`--backends: "${name}": f16 storage is webgpu's only`);
  return { name: name.trim(), backend, dtype };
}

export interface CrosscheckRow {
  shape: string;
  lengths: number[];
  backend: string;
  max_abs_err: Record<string, number>;
  mean_abs_err: Record<string, number>;
  tolerance: Record<string, number>;
  /** NaN and infinite values in the backend's outputs */
  non_finite: number;
  pass: boolean;
}

/** Non-finite values in every output of a forward pass. */
export function countNonFinite(out: ForwardOutput): number {
  const arrays = [out.lastHiddenState, ...(out.hiddenStates ?? []), out.mlmLogits, out.tokenLogits, ...Object.values(out.pooled ?? {}), ...Object.values(out.classifierLogits ?? {})];
  let n = 0;
  for (const a of arrays) if (a) for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) n++;
  return n;
}

/** The stress shapes run and skipped for this folder (max_position_embeddings, `maxTokens`). */
export function crosscheckShapes(folder: CheckpointFolder, maxTokens = Infinity): ReturnType<typeof stressShapes> {
  const shapes = stressShapes(folder.config, maxTokens);
  if (shapes.shapes.length === 0) throw new GoldenInputError(`--max-tokens ${maxTokens}: every stress shape was skipped`);
  return shapes;
}

/**
 * Runs each shape on each backend, calling `onRow` as rows complete (a long run shows progress). Each shape's
 * oracle runs once; the expected tensors are the fp64 values themselves, not rounded to f32.
 */
export async function crosscheck(folder: CheckpointFolder, shapes: readonly StressShape[], backends: readonly CrosscheckBackend[], seed = 0, onRow: (row: CrosscheckRow) => void = () => {}): Promise<CrosscheckRow[]> {
  const rows: CrosscheckRow[] = [];
  const excluded = specialTokenIds(folder);
  for (const [i, shape] of shapes.entries()) {
    const io = await oracleIo(folder, randomTokenSequences(folder.config, shape.lengths, seed + i, excluded), { mlmLogits: false, classifierLogits: false }, true);
    const golden: GoldenCase = { name: shape.name, config: folder.config, checkpoint: folder.tensors, checkpointSource: folder.dir, io, ioFile: `stress shape ${shape.name} (in memory)` };
    for (const b of backends) {
      // The backend's own runner, wrapped to count the non-finite values it returns.
      let nonFinite = 0;
      const backendRunner = parityRunner(b.backend);
      const runner: Runner = async (...args) => {
        const out = await backendRunner(...args);
        nonFinite = countNonFinite(out);
        return out;
      };
      const { result, meanAbsErr } = await evaluateParity(golden, b.backend, 'fp32', b.dtype, { runner, provides: new Set(['last_hidden_state', 'hidden_states']) });
      const row: CrosscheckRow = {
        shape: shape.name,
        lengths: shape.lengths,
        backend: b.name,
        max_abs_err: result.max_abs_err,
        mean_abs_err: meanAbsErr,
        tolerance: result.tolerance,
        non_finite: nonFinite,
        pass: result.pass && nonFinite === 0,
      };
      rows.push(row);
      onRow(row);
    }
  }
  return rows;
}

const TABLE_OUTPUTS = ['last_hidden_state', 'hidden_states'];

export function crosscheckHeader(): string {
  const cols = ['shape', 'lengths', 'backend', ...TABLE_OUTPUTS.map((o) => `${o} max / mean`), 'non-finite', 'pass'];
  return `| ${cols.join(' | ')} |\n|${cols.map((_, i) => (i >= 3 && i < 3 + TABLE_OUTPUTS.length ? ' ---: ' : ' --- ')).join('|')}|\n`;
}

export function crosscheckTableRow(r: CrosscheckRow): string {
  const e = (x: number | undefined) => (x === undefined ? '-' : x.toExponential(2));
  const errors = TABLE_OUTPUTS.map((o) => `${e(r.max_abs_err[o])} / ${e(r.mean_abs_err[o])}`);
  return `| ${[r.shape, r.lengths.join(','), r.backend, ...errors, String(r.non_finite), r.pass ? 'yes' : 'NO'].join(' | ')} |\n`;
}
