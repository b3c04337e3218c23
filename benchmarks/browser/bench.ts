// The bench page's measurement, apart from its DOM: the WebGPU engine on the browser's navigator.gpu over
// workloads sized to the adapter (sizing.ts), timed as `npm run bench` times it (timing.ts), each workload a
// result row in the schema of results.ts, then the peer (peer.ts: ONNX Runtime Web's WebGPU provider) on the
// same weights and batches, and the submission (rows + environment) that `npm run report` merges.
import { presetConfig } from '../../reference/config.ts';
import type { Checkpoint } from '../../reference/checkpoint.ts';
import { randomModel } from '../../reference/modernbert.ts';
import { fp32 } from '../../reference/ops.ts';
import { type GpuContext, closeSharedDevice, sharedDevice } from '../../optimized/webgpu/device.ts';
import { type WebGpuModel, createWebGpuModel, destroyModel, forward, memoryStats } from '../../optimized/webgpu/modernbert.ts';
import { adapterName, featuresText, slug } from '../adapter.ts';
import { type ResultRow, resultRow } from '../results.ts';
import { type Environment, type Submission, makeSubmission } from '../submission.ts';
import { seconds, time } from '../timing.ts';
import { randomSequences } from '../workloads.ts';
import { browserEnvironment } from './environment.ts';
import { type PeerBatch, peerUnavailable, runOnnxRuntimeWebPeer } from './peer.ts';
import { type SizingLimits, sizeWorkload } from './sizing.ts';

// Put in by the page's builder (esbuild define): the project's commit and version the page was built from.
declare const BENCH_PAGE_COMMIT: string;
declare const BENCH_PAGE_VERSION: string;

export interface BenchOptions {
  /** preset config of the random weights; a checkpoint folder's rows carry the folder's name instead */
  config: string;
  /** a checkpoint folder's weights (read when the run starts, as part of load_s), or null: seeded random weights */
  checkpoint: (() => Promise<{ name: string; checkpoint: Checkpoint }>) | null;
  dtype: 'fp32' | 'fp16';
  /** sizing.ts specs: "fixed_short" (sized to the adapter), "fixed_short:16", "512x4,128" */
  workloads: string[];
  runs: number;
  /** counts the first call, as in timing.ts */
  warmup: number;
  seed: number;
  /** the planned peak a workload may reach, and its real tokens per batch, at most */
  budgetBytes: number;
  maxTokens: number;
  /** then ONNX Runtime Web's WebGPU provider on the batches the engine ran (peer.ts) */
  peer: boolean;
}

/** What the page shows while it runs: a progress fraction and a line of text, each row as it comes, and what did not run. */
export interface BenchEvents {
  progress(fraction: number, text: string): void;
  row(row: ResultRow): void;
  skipped(why: string): void;
}

/** The environment every row shares: acquired with the device, before any row. */
export interface BenchRun {
  date: string;
  environment: Environment;
}

/** The file a submission downloads as: the leaderboard merges every `*.results.json` under its root. */
export function submissionFileName(run: BenchRun, extension: '.results.json' | '-results.csv'): string {
  return `${run.environment.device}-${run.date.slice(0, 19).replace(/:/g, '')}${extension}`;
}

export function benchSubmission(run: BenchRun, rows: readonly ResultRow[]): Submission {
  return makeSubmission(rows, run.environment, `modernbert-ts bench page ${BENCH_PAGE_VERSION} (commit ${BENCH_PAGE_COMMIT})`);
}

/**
 * Runs every workload on the engine, then the peer on the batches that ran; `onStart` gets the run's environment
 * once the device is acquired. Rows so far stay with the caller if it throws.
 */
export async function runBench(options: BenchOptions, events: BenchEvents, onStart: (run: BenchRun) => void): Promise<void> {
  const date = new Date().toISOString();
  const dtype = options.dtype === 'fp16' ? 'f16' : 'f32';
  const callsPerWorkload = options.warmup + options.runs; // the first call is the first of the warm-up
  const unavailable = options.peer ? await peerUnavailable(options.dtype, options.workloads) : null;
  if (unavailable) events.skipped(unavailable);
  const peer = options.peer && !unavailable;
  const engineSteps = 1 + options.workloads.length * callsPerWorkload;
  // The peer's share of the bar: its load, then as many calls per workload as the engine's.
  const steps = engineSteps * (peer ? 2 : 1);
  events.progress(0, options.checkpoint ? 'reading the checkpoint folder' : 'making random weights');

  let ctx!: GpuContext;
  let model!: WebGpuModel;
  // Kept for the peer's graph only: without it, the weights are garbage once uploaded.
  let peerCheckpoint = null as Checkpoint | null;
  let weights!: string;
  let run!: BenchRun;
  let config = options.config;
  const ran: PeerBatch[] = [];
  try {
    const loadS = await seconds(async () => {
      let checkpoint: Checkpoint;
      if (options.checkpoint) {
        const folder = await options.checkpoint();
        ({ checkpoint, name: config } = folder);
        weights = `checkpoint folder ${folder.name}`;
      } else {
        checkpoint = randomModel(presetConfig(options.config), fp32, options.seed);
        weights = `random weights (seed ${options.seed})`;
      }
      events.progress(0, 'acquiring the WebGPU device and uploading the weights');
      ctx = await sharedDevice();
      model = createWebGpuModel(ctx, checkpoint, dtype);
      if (peer) peerCheckpoint = checkpoint;
      await ctx.device.queue.onSubmittedWorkDone(); // the upload done
    });
    run = { date, environment: await environmentOf(ctx) };
    onStart(run);
    const limits: SizingLimits = {
      bindingBytes: Math.min(ctx.device.limits.maxStorageBufferBindingSize, ctx.device.limits.maxBufferSize),
      budgetBytes: options.budgetBytes,
      maxTokens: options.maxTokens,
    };
    let done = 1;
    for (const spec of options.workloads) {
      events.progress(done / steps, `${spec}: sizing the batch`);
      const sized = await sizeWorkload(model.config, spec, limits, options.seed, dtype);
      if ('skipped' in sized) {
        events.skipped(sized.skipped);
        done += callsPerWorkload;
        continue;
      }
      const { workload, why } = sized;
      const sequences = randomSequences(workload.lengths, model.config.vocabSize, options.seed);
      const tokens = workload.lengths.reduce((a, b) => a + b, 0);
      const label = `${workload.name}, ${tokens} tokens`;
      let calls = 0;
      const t = await time(workload.name, async () => {
        const what = calls === 0 ? 'first pass' : calls < options.warmup ? 'warm-up' : `run ${calls - options.warmup + 1} of ${options.runs}`;
        events.progress((done + calls) / steps, `${label}: ${what}`);
        await forward(model, sequences, { allowLongSequences: true });
        calls++;
      }, options);
      done += callsPerWorkload;
      ran.push({ name: workload.name, sequences });
      events.progress(done / steps, `${label}: done`);
      const note = [
        'browser page',
        weights,
        why,
        dtype === 'f16' ? 'f16 storage, f32 arithmetic' : '',
        'wall clock per forward pass through the readback of last_hidden_state',
        ctx.swiftshader ? 'SwiftShader: a CPU emulation, not a GPU number' : '',
      ].filter(Boolean).join('; ');
      events.row(resultRow({
        date,
        commit: BENCH_PAGE_COMMIT,
        ...run.environment,
        kind: 'model',
        name: workload.name,
        backend: 'webgpu',
        variant: 'flash',
        config,
        dtype: options.dtype,
        sequences: sequences.length,
        tokens,
        runs: t.runs,
        median_s: t.medianS,
        min_s: t.minS,
        max_s: t.maxS,
        tokens_per_s: tokens / t.medianS,
        peak_bytes: memoryStats(model).peakBytes, // the last pass's: forward() starts each pass's peak afresh
        note,
        load_s: loadS,
        first_s: t.firstS,
      }));
    }
  } finally {
    if (model) destroyModel(model); // absent when loading failed
    await closeSharedDevice(); // the peer makes a device of its own: the engine's buffers are gone by then
  }
  const done = `done: ${ran.length} of ${options.workloads.length} workload(s) run`;
  if (!peerCheckpoint) {
    events.progress(1, done);
    return;
  }
  let peerRows = 0;
  await runOnnxRuntimeWebPeer(
    { checkpoint: peerCheckpoint, config, dtype: options.dtype, batches: ran, runs: options.runs, warmup: options.warmup, common: { date, commit: BENCH_PAGE_COMMIT, ...run.environment }, weights, swiftshader: ctx.swiftshader },
    {
      progress: (fraction, text) => events.progress((engineSteps + fraction * engineSteps) / steps, text),
      row(row) {
        peerRows++;
        events.row(row);
      },
      skipped: events.skipped,
    },
  );
  events.progress(1, `${done}, ${peerRows} by the ONNX Runtime Web peer`);
}

async function environmentOf(ctx: GpuContext): Promise<Environment> {
  const limits = ctx.device.limits;
  return {
    device: slug(adapterName(ctx)),
    adapter: adapterName(ctx),
    ...(await browserEnvironment()),
    versions: `modernbert-ts ${BENCH_PAGE_VERSION}; WebGPU (browser)`,
    features: featuresText(ctx),
    limits: { maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize, maxBufferSize: limits.maxBufferSize },
  };
}
