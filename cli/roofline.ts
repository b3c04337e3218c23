// `modernbert roofline`: this adapter's measured FMA rates, workgroup and global bandwidth, subgroup-matrix rate
// and dispatch cost (optimized/webgpu/roofline.ts), as a table or one JSON object.
import { parseArgs } from 'node:util';
import { sharedDevice } from '../optimized/webgpu/device.ts';
import { formatRoofline, measureRoofline, rooflineJson } from '../optimized/webgpu/roofline.ts';

export async function rooflineCommand(args: string[], out: (s: string) => void): Promise<number> {
  // strict: an unknown option or a positional argument is an error (exit 2)
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false }, runs: { type: 'string' } } });
  let runs: number | undefined;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
  }
  const report = await measureRoofline(await sharedDevice(), { runs });
  out(values.json ? rooflineJson(report) + '\n' : formatRoofline(report));
  return 0;
}
