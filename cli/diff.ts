// `modernbert diff <case> (--outputs FILE... | --backend B)`: where an implementation first diverges from the
// fp64 reference on a golden case, and the likely cause (evals/diff.ts).
import { parseArgs } from 'node:util';
import { type Candidate, diffCase, formatDiff } from '../evals/diff.ts';
import { asForwardOutput, readOutputs } from '../evals/outputs-file.ts';
import { type ComputeDtype, LOW_PRECISION_TOLERANCE, type WantedOutputs, parityRunner } from '../evals/parity-check.ts';
import { readGoldenCase } from '../evals/parity.ts';
import { parseMap } from './map-option.ts';

export async function diffCommand(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      outputs: { type: 'string', multiple: true },
      map: { type: 'string' },
      backend: { type: 'string' },
      dtype: { type: 'string' },
      'no-catalog': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new Error(`expected one case directory, got ${positionals.length}`);
  if (!values.outputs === (values.backend === undefined)) throw new Error('give either --outputs FILE (another implementation\'s outputs) or --backend B');
  if (!values.outputs && values.map !== undefined) throw new Error('--map renames the tensors of --outputs files');
  const dtype = values.dtype;
  if (dtype !== undefined && !(values.outputs && (dtype === 'f16' || dtype === 'bf16'))) throw new Error(`--dtype: the dtype --outputs were computed in, f16 or bf16 (their tolerances, as parity's), got "${dtype}"${values.outputs ? '' : ' with --backend'}`);
  const golden = readGoldenCase(positionals[0]);
  const L = golden.io.get('input_ids')?.shape[1] ?? 0;

  let candidate: Candidate;
  let want: WantedOutputs;
  let source: string;
  if (values.outputs) {
    // The outputs the files give: hidden_states make the comparison layer by layer.
    const outputs = readOutputs(values.outputs, parseMap(values.map));
    want = wantedOf((name) => outputs.has(name));
    candidate = async (batch) => asForwardOutput(outputs, golden.config, batch, L);
    source = 'outputs';
  } else {
    const backend = values.backend!;
    const runner = parityRunner(backend);
    // Every layer's output, and the heads the case holds.
    want = { ...wantedOf((name) => golden.io.has(name)), hiddenStates: true };
    candidate = (batch, w) => runner(golden, 'fp32', batch, w, 'f32');
    source = backend;
  }
  const tolerance = dtype ? LOW_PRECISION_TOLERANCE[dtype as ComputeDtype] : undefined;
  const report = await diffCase(golden, dtype ? `${source} (${dtype})` : source, candidate, want, { catalog: !values['no-catalog'], tolerance });
  out(values.json ? JSON.stringify(report) + '\n' : formatDiff(report));
  return report.pass ? 0 : 1;
}

/** The outputs to compare, from which golden names are there. */
function wantedOf(has: (name: string) => boolean): WantedOutputs {
  return {
    hiddenStates: has('hidden_states'),
    mlmLogits: has('mlm_logits'),
    pooling: (['cls', 'mean'] as const).filter((p) => has(`${p}_logits`)),
    tokenLogits: ['token_logits', 'start_logits', 'end_logits'].some(has),
  };
}
