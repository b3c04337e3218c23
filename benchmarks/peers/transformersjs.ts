// The transformers.js peer of the benchmarks (DESIGN §5): @huggingface/transformers 4.x on ONNX Runtime, on an
// ONNX graph of the same checkpoint that onnx-export.ts writes here first (TypeScript, so no Python is needed).
// Prints one JSON result row per line on stdout, as torch_peer.py does; progress goes to stderr.
//   node --import ./bin/register.js benchmarks/peers/transformersjs.ts --checkpoint DIR --workloads FILE
//        [--device cpu|webgpu] [--dtype fp32,fp16] [--adapter NAME] [--runs 3] [--warmup 1] [--common JSON]
//        [--dump-hidden FILE.safetensors]
// --device webgpu is ONNX Runtime's WebGPU execution provider (what transformers.js runs for device 'webgpu'), with
// the Vulkan set-up our engine makes (prepareVulkanForOtherDawn: SwiftShader where there is no GPU). Each dtype is its
// own graph and session (fp16: model_fp16.onnx, as transformers.js ships it). A dtype that does not load, or a
// workload that fails (a padded batch over the adapter's buffer limits), is one "... failed: why" line on stderr;
// the rest still run, and the exit code is 1.
// Run it in its own process and never import it from one that uses the `webgpu` package: onnxruntime-node
// carries its own Dawn, and two Dawn copies in one process crash.
// Like transformers.js itself, each workload runs as one right-padded batch with an attention mask: the pads
// are computed, throughput counts real tokens.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { AutoModel, Tensor, env } from '@huggingface/transformers';
import type { Tensor as SafeTensor } from '../../reference/safetensors.ts';
import { writeSafetensors } from '../../reference/files.ts';
import { prepareVulkanForOtherDawn } from '../../optimized/webgpu/device.ts';
import { RESULT_COLUMNS, type ResultRow, resultRow } from '../results.ts';
import { writeOnnxExport } from './onnx-export.ts';
import { ONNX_EXPORT_NOTE, ONNX_FILES, type OnnxDtype, onnxRuntimeFailure, paddedInputs } from './onnx-graph.ts';

interface Workload {
  name: string;
  sequences: number[][];
}
interface WorkloadFile {
  workloads: Workload[];
}
type PeerModel = Awaited<ReturnType<typeof AutoModel.from_pretrained>>;

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    workloads: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    dtype: { type: 'string', default: 'fp32' },
    adapter: { type: 'string' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    common: { type: 'string', default: '{}' },
    'dump-hidden': { type: 'string' },
  },
});

const VARIANTS: Record<string, string> = { cpu: 'onnxruntime-cpu', webgpu: 'onnxruntime-webgpu' };
if (!values.checkpoint || !values.workloads) fail('give --checkpoint DIR (config.json, model.safetensors) and --workloads FILE');
const device = values.device;
if (!Object.hasOwn(VARIANTS, device)) fail(`--device must be cpu or webgpu, got "${device}"`);
const dtypes = values.dtype.split(',') as OnnxDtype[];
const unknownDtype = dtypes.find((d) => !Object.hasOwn(ONNX_FILES, d));
if (unknownDtype !== undefined) fail(`--dtype takes fp32 and fp16, got "${unknownDtype}"`);
const runs = Number(values.runs);
const warmup = Number(values.warmup);
if (!(Number.isInteger(runs) && runs > 0)) fail(`--runs must be a positive integer, got "${values.runs}"`);
if (!(Number.isInteger(warmup) && warmup >= 0)) fail(`--warmup must be a non-negative integer, got "${values.warmup}"`);
const common = parseJson(values.common, '--common') as Partial<ResultRow>;
if (common === null || typeof common !== 'object' || Array.isArray(common)) fail('--common must be a JSON object of result columns');
const workloads = readWorkloads(values.workloads);
const configFile = join(values.checkpoint, 'config.json');
const config = parseJson(readText(configFile), configFile) as { pad_token_id?: number };

// The ONNX folder lives only as long as this process: a graph is as large as the checkpoint.
const exportDir = mkdtempSync(join(tmpdir(), 'modernbert-onnx-'));
const modelDir = join(exportDir, 'model');
const dumped = new Map<string, SafeTensor>();
let failed = false;
try {
  process.stderr.write(`transformersjs: writing the ONNX graph of ${values.checkpoint} (${dtypes.join(', ')})\n`);
  writeOnnxExport(values.checkpoint, modelDir, dtypes);
  if (device === 'webgpu') {
    const icd = await prepareVulkanForOtherDawn();
    if (icd) process.stderr.write(`transformersjs: Vulkan ICD ${icd}\n`);
  }
  // Local files only: the folder is env.localModelPath/<model id>, and nothing is fetched.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dirname(modelDir);
  for (const dtype of dtypes) if (!(await benchmark(dtype))) failed = true;
  if (values['dump-hidden']) {
    writeSafetensors(values['dump-hidden'], dumped);
    process.stderr.write(`transformersjs: wrote last_hidden_state of the real tokens to ${values['dump-hidden']}\n`);
  }
} catch (e) {
  reportFailure('the ONNX export', e);
  failed = true;
} finally {
  rmSync(exportDir, { recursive: true, force: true });
}
if (failed) process.exit(1);

/** The whole error, then one line the harness shows as the skip reason (e.g. "webgpu fp32 failed: Failed to get a WebGPU adapter"). */
function reportFailure(step: string, e: unknown): void {
  // ONNX Runtime's f16 kernels need the adapter's shader-f16 (SwiftShader has none; Dawn withholds it on NVIDIA
  // without a toggle, which ONNX Runtime 1.30 sets).
  process.stderr.write(`${(e as Error).stack ?? String(e)}\ntransformersjs: ${step} failed: ${onnxRuntimeFailure(e)}\n`);
}

/** Loads the dtype's graph and measures every workload on it; false when the load or any workload failed. */
async function benchmark(dtype: OnnxDtype): Promise<boolean> {
  const loadStart = performance.now();
  let model: PeerModel;
  try {
    model = await AutoModel.from_pretrained(basename(modelDir), { device: device as 'cpu' | 'webgpu', dtype, local_files_only: true });
  } catch (e) {
    reportFailure(`${device} ${dtype}`, e);
    return false;
  }
  const loadS = (performance.now() - loadStart) / 1000;
  let ok = true;
  for (const w of workloads.workloads) {
    try {
      await measureWorkload(model, w, dtype, loadS);
    } catch (e) {
      reportFailure(`${w.name} ${device} ${dtype}`, e);
      ok = false;
    }
  }
  await model.dispose();
  return ok;
}

/** One workload on a loaded graph: the first call timed apart, then the warm runs; prints its row. */
async function measureWorkload(model: PeerModel, w: Workload, dtype: OnnxDtype, loadS: number): Promise<void> {
  const { ids, mask, dims, realTokens, computedTokens } = paddedInputs(w.sequences, config.pad_token_id ?? 0);
  const [inputIds, attentionMask] = [new Tensor('int64', ids, dims), new Tensor('int64', mask, dims)];
  process.stderr.write(`transformersjs: ${w.name} ${device} ${dtype}: ${warmup} warm-up + ${runs} runs of ${w.sequences.length} sequences, ${realTokens} real / ${computedTokens} computed tokens\n`);
  const forward = async () => ((await model({ input_ids: inputIds, attention_mask: attentionMask })) as { last_hidden_state: Tensor }).last_hidden_state;
  // The first call is timed on its own and counts as the first warm-up run (benchmarks/timing.ts does the same).
  const firstStart = performance.now();
  (await forward()).dispose();
  const firstS = (performance.now() - firstStart) / 1000;
  for (let i = 1; i < warmup; i++) (await forward()).dispose();
  const seconds: number[] = [];
  let last: Tensor | undefined;
  for (let i = 0; i < runs; i++) {
    last?.dispose();
    const start = performance.now();
    last = await forward();
    seconds.push((performance.now() - start) / 1000);
  }
  if (values['dump-hidden'] && last) dumped.set(`${w.name}.${VARIANTS[device]}.${dtype}`, realRows(last, w.sequences));
  last?.dispose();
  const sorted = [...seconds].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  const row = resultRow({
    kind: 'model',
    ...common,
    name: w.name,
    backend: 'transformersjs',
    variant: VARIANTS[device],
    dtype,
    sequences: w.sequences.length,
    tokens: realTokens,
    runs,
    median_s: median,
    min_s: sorted[0],
    max_s: sorted[sorted.length - 1],
    tokens_per_s: realTokens / median,
    peak_bytes: null,
    adapter: device === 'cpu' ? (cpus()[0]?.model.trim() ?? 'cpu') : (values.adapter ?? null),
    runtime: `node ${process.versions.node}`,
    versions: `@huggingface/transformers ${env.version}; onnxruntime-node ${onnxRuntimeVersion()}`,
    note: `padded batch: ${computedTokens} tokens computed for ${realTokens} real; ${ONNX_EXPORT_NOTE}`,
    load_s: loadS,
    first_s: firstS,
  });
  process.stdout.write(JSON.stringify(Object.fromEntries(RESULT_COLUMNS.map((c) => [c, row[c]]))) + '\n');
}

/** The real tokens' rows of a [B, L, C] output, packed one sequence after another ([T, C], the reference's layout). */
function realRows(hidden: Tensor, sequences: number[][]): SafeTensor {
  const [, longest, width] = hidden.dims;
  const data = hidden.data as Float32Array;
  const total = sequences.reduce((n, s) => n + s.length, 0);
  const out = new Float32Array(total * width);
  let t = 0;
  sequences.forEach((s, b) => {
    out.set(data.subarray(b * longest * width, (b * longest + s.length) * width), t * width);
    t += s.length;
  });
  return { dtype: 'F32', shape: [total, width], data: out };
}

function readWorkloads(file: string): WorkloadFile {
  const data = parseJson(readText(file), file) as WorkloadFile;
  const list = data?.workloads;
  if (!Array.isArray(list) || list.length === 0) fail(`${file}: field "workloads" must be a non-empty list`);
  list.forEach((w, i) => {
    if (typeof w?.name !== 'string') fail(`${file}: field "workloads[${i}].name" must be a string`);
    const ok = Array.isArray(w.sequences) && w.sequences.length > 0 && w.sequences.every((s) => Array.isArray(s) && s.length > 0 && s.every((id) => Number.isInteger(id) && id >= 0));
    if (!ok) fail(`${file}: field "workloads[${i}].sequences" must be a non-empty list of non-empty lists of token ids`);
  });
  return data;
}

function onnxRuntimeVersion(): string {
  // transformers.js exposes the onnxruntime-common env; its versions name the runtime that runs the sessions.
  const versions = (env.backends.onnx as { versions?: Record<string, string> }).versions;
  return versions?.node ?? versions?.common ?? 'unknown';
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    fail(`${file}: cannot read (${(e as Error).message})`);
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(`${source}: not valid JSON (${(e as Error).message})`);
  }
}

function fail(message: string): never {
  process.stderr.write(`transformersjs: ${message}\n`);
  process.exit(2);
}
