// The bench page's peer: ONNX Runtime Web's WebGPU execution provider (onnxruntime-web/webgpu, the runtime
// transformers.js runs in a browser) on an ONNX graph built here (peers/onnx-graph.ts) from the weights the
// engine ran, over the batches the engine ran. As transformers.js feeds it, each batch is one right-padded int64
// batch with an attention mask: the pads are computed, throughput counts real tokens. What keeps the peer from
// a dtype or a workload (no shader-f16 for the fp16 graph, a tensor over the device's binding limit, a runtime
// that does not load, a run that fails) is one skipped line naming the workload(s), the peer and the dtype; the
// engine's rows stand either way.
import type * as OrtModule from 'onnxruntime-web/webgpu';
import type { Checkpoint } from '../../reference/checkpoint.ts';
import type { ModernBertConfig } from '../../reference/config.ts';
import { formatBytes } from '../../reports/format.ts';
import { ONNX_EXPORT_NOTE, onnxModel, onnxRuntimeFailure, paddedInputs } from '../peers/onnx-graph.ts';
import { type ResultRow, resultRow } from '../results.ts';
import { time } from '../timing.ts';

type Ort = typeof OrtModule;

// Put in by the page's builder: the ONNX Runtime WebAssembly binary it copied beside page.js.
declare const BENCH_PAGE_ORT_WASM: string;

// The row's backend and variant, as reports/tables.ts knows the browser's ONNX Runtime peer.
const PEER_BACKEND = 'onnxruntime-web';
const PEER_VARIANT = 'webgpu';
const PEER_NAME = 'ONNX Runtime Web (WebGPU) peer';

export interface PeerBatch {
  name: string;
  sequences: readonly Int32Array[];
}

export interface PeerOptions {
  /** the weights the engine ran, and its rows' config column */
  checkpoint: Checkpoint;
  config: string;
  dtype: 'fp32' | 'fp16';
  batches: readonly PeerBatch[];
  runs: number;
  warmup: number;
  /** columns every row of the run shares: date, commit and the environment */
  common: Partial<ResultRow>;
  /** what the engine's notes say of the weights ("random weights (seed 42)") */
  weights: string;
  swiftshader: boolean;
}

export interface PeerEvents {
  /** `fraction` of the peer's part of the run done */
  progress(fraction: number, text: string): void;
  row(row: ResultRow): void;
  skipped(why: string): void;
}

/** Measures every batch on one session; what does not run is reported through `skipped`, not thrown. */
export async function runOnnxRuntimeWebPeer(options: PeerOptions, events: PeerEvents): Promise<void> {
  const { dtype, batches } = options;
  if (batches.length === 0) return;
  const callsPerBatch = options.warmup + options.runs;
  const steps = 1 + batches.length * callsPerBatch;
  const skipAll = (why: string) => events.skipped(peerSkipped(batches.map((b) => b.name), dtype, why));
  events.progress(0, `${PEER_NAME}: building the ONNX graph and loading ONNX Runtime Web`);
  let loaded: Awaited<ReturnType<typeof loadSession>>;
  try {
    loaded = await loadSession(options.checkpoint, dtype);
  } catch (e) {
    skipAll(`ONNX Runtime Web did not load (${onnxRuntimeFailure(e)})`);
    return;
  }
  const { ort, session, loadS } = loaded;
  const version = ort.env.versions.web ?? 'unknown version';
  // ONNX Runtime keeps the device it made with the first session (no Promise, whatever its type says).
  const device = (await ort.env.webgpu.device) as GPUDevice | undefined;
  const bindingBytes = device ? Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) : Infinity;

  try {
    let done = 1;
    for (const batch of batches) {
      const start = done;
      done += callsPerBatch;
      const { ids, mask, dims, realTokens, computedTokens, longest } = paddedInputs(batch.sequences, options.checkpoint.config.padTokenId);
      const [inputIds, attentionMask] = [new ort.Tensor('int64', ids, dims), new ort.Tensor('int64', mask, dims)];
      const skip = (why: string) => events.skipped(peerSkipped([batch.name], dtype, why));
      const over = overLimits(options.checkpoint.config, batch.sequences.length, longest, dtype, bindingBytes);
      if (over) {
        skip(over);
        continue;
      }
      const label = `${batch.name}, ${realTokens} tokens, ${PEER_NAME}`;
      let calls = 0;
      let t: Awaited<ReturnType<typeof time>>;
      try {
        t = await time(`${batch.name} ${PEER_BACKEND}`, async () => {
          const what = calls === 0 ? 'first pass' : calls < options.warmup ? 'warm-up' : `run ${calls - options.warmup + 1} of ${options.runs}`;
          events.progress((start + calls) / steps, `${label}: ${what}`);
          // The output is on the CPU (ONNX Runtime's default): the time runs through the readback.
          const outputs = await session.run({ input_ids: inputIds, attention_mask: attentionMask });
          outputs.last_hidden_state.dispose();
          calls++;
        }, options);
      } catch (e) {
        skip(`the run failed (${onnxRuntimeFailure(e)})`);
        continue;
      }
      events.progress(done / steps, `${label}: done`);
      const note = [
        'browser page',
        options.weights,
        `padded batch: ${computedTokens} tokens computed for ${realTokens} real`,
        dtype === 'fp16' ? 'f16 weights and activations' : '',
        'wall clock per session.run through the readback of last_hidden_state',
        options.swiftshader ? 'SwiftShader: a CPU emulation, not a GPU number' : '',
        ONNX_EXPORT_NOTE,
      ].filter(Boolean).join('; ');
      events.row(resultRow({
        ...options.common,
        kind: 'model',
        name: batch.name,
        backend: PEER_BACKEND,
        variant: PEER_VARIANT,
        config: options.config,
        dtype,
        sequences: batch.sequences.length,
        tokens: realTokens,
        runs: t.runs,
        median_s: t.medianS,
        min_s: t.minS,
        max_s: t.maxS,
        tokens_per_s: realTokens / t.medianS,
        peak_bytes: null, // ONNX Runtime does not say
        versions: `${PEER_BACKEND} ${version}; WebGPU (browser)`,
        features: device ? `ONNX Runtime's device has: ${[...device.features].sort().join(', ') || 'none'}` : null,
        note,
        load_s: loadS,
        first_s: t.firstS,
      }));
    }
  } finally {
    await session.release();
  }
}

/**
 * The session of the checkpoint's graph in `dtype`. Its seconds are the rows' load_s: building the graph, then
 * (the first time on a page) the runtime's download and compilation, then the session's creation.
 */
async function loadSession(checkpoint: Checkpoint, dtype: 'fp32' | 'fp16'): Promise<{ ort: Ort; session: OrtModule.InferenceSession; loadS: number }> {
  const start = performance.now();
  const { chunks, length } = onnxModel(checkpoint.config, checkpoint.weights, dtype);
  const graph = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    graph.set(chunk, offset);
    offset += chunk.length;
  }
  // Imported when the peer runs: the runtime's module is evaluated (and its binary fetched) only then.
  const ort = await import('onnxruntime-web/webgpu');
  ort.env.wasm.wasmPaths = { wasm: new URL(BENCH_PAGE_ORT_WASM, document.baseURI).href };
  // Threads need SharedArrayBuffer, which a page that is not cross-origin isolated does not have.
  ort.env.wasm.numThreads = 1;
  // Its warnings (shape operators placed on the CPU, as intended) would read as errors in the console; what
  // fails is thrown, and the page says it.
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(graph, { executionProviders: ['webgpu'] });
  return { ort, session, loadS: (performance.now() - start) / 1000 };
}

/**
 * Why the peer cannot run `dtype` on this browser's adapter at all, as the line the page lists for `workloads`, or
 * null. Asked before the engine runs: the visitor learns it at once, and ONNX Runtime would only find out at the
 * first run, after its runtime's download and the graph's build.
 */
export async function peerUnavailable(dtype: 'fp32' | 'fp16', workloads: readonly string[]): Promise<string | null> {
  if (dtype !== 'fp16') return null;
  // The adapter the engine asks for; ONNX Runtime asks for high performance as well.
  const adapter = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
  return adapter && !adapter.features.has('shader-f16') ? peerSkipped(workloads, dtype, "this adapter has no shader-f16, which ONNX Runtime's fp16 kernels need") : null;
}

/** "32x2, 16x3: ONNX Runtime Web (WebGPU) peer, fp16: why", as the engine's lines start with the workload. */
function peerSkipped(workloads: readonly string[], dtype: string, why: string): string {
  return `${workloads.join(', ')}: ${PEER_NAME}, ${dtype}: ${why}`;
}

/**
 * What keeps a padded [batch, longest] pass from ONNX Runtime's device, or null. Every tensor of the graph is one
 * buffer: the largest are the attention scores [B, H, L, L], the MLP's [B, L, 2I] and the token embeddings [V, C].
 */
function overLimits(config: ModernBertConfig, batch: number, longest: number, dtype: 'fp32' | 'fp16', bindingBytes: number): string | null {
  // The graph's position tables end at max_position_embeddings.
  if (longest > config.maxPositionEmbeddings) return `a ${longest}-token sequence, over the graph's ${config.maxPositionEmbeddings} positions`;
  const elementBytes = dtype === 'fp16' ? 2 : 4;
  const tensors: [string, number][] = [
    [`the attention scores [${batch}, ${config.numAttentionHeads}, ${longest}, ${longest}]`, batch * config.numAttentionHeads * longest * longest],
    [`the MLP input [${batch}, ${longest}, ${2 * config.intermediateSize}]`, batch * longest * 2 * config.intermediateSize],
    [`the token embeddings [${config.vocabSize}, ${config.hiddenSize}]`, config.vocabSize * config.hiddenSize],
  ];
  const [what, elements] = tensors.reduce((a, b) => (b[1] > a[1] ? b : a));
  const bytes = elements * elementBytes;
  return bytes > bindingBytes ? `${what}: ${formatBytes(bytes)}, over the device's ${formatBytes(bindingBytes)} binding limit` : null;
}
