// `modernbert golden make` (golden cases from a checkpoint folder, evals/golden.ts) and `modernbert crosscheck`
// (the stress shapes on every backend against the fp64 oracle, evals/crosscheck.ts): options in, lines out.
import { parseArgs } from 'node:util';
import { GoldenInputError, type WeightsMode, makeGoldenCase, makeStressSet, parseMaxTokens, readCheckpointFolder } from '../evals/golden.ts';
import { type CrosscheckBackend, crosscheck, crosscheckHeader, crosscheckShapes, crosscheckTableRow, parseCrosscheckBackend } from '../evals/crosscheck.ts';
import { MODEL_OPTIONS, modelFolder } from './model-option.ts';

type Print = (s: string) => void;

export async function goldenCommand(args: string[], out: Print): Promise<number> {
  const [what, ...rest] = args;
  if (what !== 'make') throw new GoldenInputError(`unknown golden command "${what ?? ''}" (available: make)`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...MODEL_OPTIONS,
      out: { type: 'string' },
      texts: { type: 'string' },
      lengths: { type: 'string' },
      stress: { type: 'boolean', default: false },
      'max-tokens': { type: 'string' },
      seed: { type: 'string' },
      weights: { type: 'string' },
    },
  });
  if (positionals.length) throw new GoldenInputError(`unexpected argument "${positionals[0]}"`);
  if (!values.model) throw new GoldenInputError('--model DIR is required (a checkpoint folder: config.json, model.safetensors or shards; or a Hugging Face model name, org/name)');
  if (!values.out) throw new GoldenInputError('--out is required (the case folder to write; absent or empty)');
  const seed = parseSeed(values.seed);
  const model = await modelFolder(values.model, values.revision);
  const weights = values.weights as WeightsMode | undefined; // checked by evals/golden.ts
  if (values.stress) {
    if (values.texts !== undefined || values.lengths !== undefined) throw new GoldenInputError('--stress writes its own shapes: --texts and --lengths do not apply');
    const { written, skipped } = await makeStressSet({ model, out: values.out, seed, weights, maxTokens: parseMaxTokens(values['max-tokens']) }, out);
    out(`wrote ${values.out}: ${written.length} cases (${written.map((s) => s.name).join(', ')})${skipped.length ? `; skipped ${skipped.map((s) => s.name).join(', ')}` : ''}; stress.json lists them\n`);
    return 0;
  }
  if (values['max-tokens'] !== undefined) throw new GoldenInputError('--max-tokens limits --stress shapes');
  const json = await makeGoldenCase({ model, out: values.out, texts: values.texts, lengths: values.lengths, seed, weights });
  out(`wrote ${values.out}: ${json.batch_size} sequences of ${(json.seq_lengths as number[]).join(', ')} tokens; ${Object.keys(json.io_tensors as object).join(', ')}\n`);
  return 0;
}

function parseSeed(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text);
  if (!(Number.isInteger(n) && n >= 0 && n < 2 ** 32)) throw new GoldenInputError(`--seed must be an integer from 0 to 2^32-1, got "${text}"`);
  return n;
}

// `--backends` when not given: every one that runs here, webgpu also with f16 storage (as `eval parity`, the
// auto-selecting gpujs is left out: it is one of its modes).
const DEFAULT_BACKENDS = ['reference', 'webgpu', 'webgpu:f16', 'gpujs:webgpu', 'gpujs:webasm', 'gpujs:cpu'];

export async function crosscheckCommand(args: string[], out: Print, err: Print): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...MODEL_OPTIONS, backends: { type: 'string' }, 'max-tokens': { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length) throw new GoldenInputError(`unexpected argument "${positionals[0]}"`);
  if (!values.model) throw new GoldenInputError('--model DIR is required (a checkpoint folder: config.json, model.safetensors or shards; or a Hugging Face model name, org/name)');
  const seed = parseSeed(values.seed);
  const maxTokens = parseMaxTokens(values['max-tokens']);
  const named = values.backends?.split(',').filter((n) => n.trim() !== '');
  if (named?.length === 0) throw new GoldenInputError('--backends names no backend');
  const requested = (named ?? DEFAULT_BACKENDS).map(parseCrosscheckBackend);
  const backends = await availableBackends(requested, named !== undefined);
  const folder = readCheckpointFolder(await modelFolder(values.model, values.revision));
  const { shapes, skipped } = crosscheckShapes(folder, maxTokens);
  if (!values.json) out(crosscheckHeader());
  const rows = await crosscheck(folder, shapes, backends, seed, (row) => out(values.json ? JSON.stringify(row) + '\n' : crosscheckTableRow(row)));
  for (const s of skipped) err(`skipped ${s.name} (lengths ${s.lengths.join(',')}): ${s.reason}\n`);
  return rows.every((r) => r.pass) ? 0 : 1;
}

/** The backends that run here; one named explicitly that does not is bad input, with the reason. */
async function availableBackends(requested: CrosscheckBackend[], explicit: boolean): Promise<CrosscheckBackend[]> {
  const { machineInfo } = await import('./machine-info.ts');
  const info = new Map((await machineInfo()).backends.map((b) => [b.name, b]));
  const usable: CrosscheckBackend[] = [];
  for (const b of requested) {
    const found = info.get(b.backend);
    if (found?.available) usable.push(b);
    else if (explicit) throw new GoldenInputError(`--backends: ${b.name} is not available here: ${found?.detail ?? 'unknown to modernbert info'}`);
  }
  return usable;
}
