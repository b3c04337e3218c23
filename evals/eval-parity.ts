// `modernbert eval parity`: every golden case on every backend available here, as a table of the max and
// mean absolute error of each output against the case's tolerance.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type PrecisionName, evaluateParity } from './parity-check.ts';
import { readGoldenCase } from './parity.ts';

export interface EvalRow {
  case: string;
  backend: string;
  precision: PrecisionName;
  output: string;
  max_abs_err: number;
  mean_abs_err: number;
  tolerance: number;
  pass: boolean;
}

/** The golden case folders under `root` (each holds io.safetensors). */
export function goldenCases(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && readdirSync(join(root, d.name)).includes('io.safetensors'))
    .map((d) => join(root, d.name))
    .sort();
}

export async function evalParity(caseDirs: readonly string[], backends: readonly { backend: string; precision: PrecisionName }[]): Promise<EvalRow[]> {
  const rows: EvalRow[] = [];
  for (const dir of caseDirs) {
    const golden = readGoldenCase(dir);
    for (const { backend, precision } of backends) {
      const { result, meanAbsErr } = await evaluateParity(golden, backend, precision);
      // gpujs with auto selection: say which mode ran
      const name = result.mode && backend === 'gpujs' ? `gpujs (ran ${result.mode})` : backend;
      for (const [output, max] of Object.entries(result.max_abs_err)) {
        const tolerance = result.tolerance[output];
        rows.push({ case: result.case, backend: name, precision, output, max_abs_err: max, mean_abs_err: meanAbsErr[output], tolerance, pass: max <= tolerance });
      }
    }
  }
  return rows;
}

export function evalTable(rows: readonly EvalRow[]): string {
  const header = '| case | backend | precision | output | max abs err | mean abs err | tolerance | pass |\n| --- | --- | --- | --- | ---: | ---: | ---: | --- |\n';
  const e = (x: number) => x.toExponential(2);
  return header + rows.map((r) => `| ${r.case} | ${r.backend} | ${r.precision} | ${r.output} | ${e(r.max_abs_err)} | ${e(r.mean_abs_err)} | ${e(r.tolerance)} | ${r.pass ? 'yes' : 'NO'} |`).join('\n') + '\n';
}
