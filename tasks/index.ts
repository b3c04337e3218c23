// modernbert-ts's public entry point: loadModel and the pipeline it returns, plus the pieces a caller may
// want on their own (the tokenizer, the reference forward pass).
import type { ModernBertWeights } from '../reference/checkpoint.ts';
import type { ModernBertConfig } from '../reference/config.ts';
import { loadCheckpoint, loadTokenizer } from '../reference/files.ts';
import { fp32 } from '../reference/ops.ts';
import type { ModernBertTokenizer } from '../reference/tokenizer.ts';
import { type LoadModelOptions, ModernBertPipeline } from './model.ts';
import { readCrossEncoder, readSentenceTransformers } from './sentence-transformers.ts';
import { resolveModelFolder } from './hub.ts';

export { NumericError } from '../reference/finite.ts';
export { BACKENDS, type Backend, type Classification, type EmbedOptions, type FillMaskPrediction, type LoadModelOptions, ModelInputError, ModernBertPipeline, type Reranked, type TextOptions } from './model.ts';
export { AGGREGATIONS, type Aggregation, type EntityGroup, type TokenEntity } from './token-classification.ts';
export { type CrossEncoderConfig, type SentenceTransformerModules, readCrossEncoder, readSentenceTransformers } from './sentence-transformers.ts';
export { loadTokenizer } from '../reference/files.ts';
export { type DownloadProgress, type HubOptions, HubError, resolveModelFolder } from './hub.ts';
export type { ModernBertTokenizer, EncodeOptions, TextInput } from '../reference/tokenizer.ts';

/** In-memory model: a config and fp32 weights, with a tokenizer for the text tasks. */
export interface ModelSource {
  config: ModernBertConfig;
  weights: ModernBertWeights;
  tokenizer?: ModernBertTokenizer;
}

/**
 * A model from a checkpoint folder (config.json, model.safetensors, tokenizer.json, tokenizer_config.json), a
 * Hugging Face model name (org/name at options.revision, through the hub cache: see resolveModelFolder; a local
 * folder of that name wins) or memory, on a backend ('auto': webgpu on a real GPU, else reference).
 */
export async function loadModel(source: string | ModelSource, options: LoadModelOptions = {}): Promise<ModernBertPipeline> {
  if (typeof source === 'string') {
    const dir = await resolveModelFolder(source, options);
    const tokenizer = loadTokenizer(dir);
    return ModernBertPipeline.create(loadCheckpoint(dir, fp32), tokenizer, { sentenceTransformers: readSentenceTransformers(dir), crossEncoder: readCrossEncoder(dir), ...options });
  }
  return ModernBertPipeline.create({ config: source.config, weights: source.weights }, source.tokenizer ?? null, options);
}

/**
 * Closes the GPU devices the webgpu and gpujs backends opened (shared by every model in the process) at once,
 * whether models still use them or not. Not needed after dispose(): the last model's dispose() lets go of its
 * device, and Dawn keeps Node running only while a device exists.
 */
export async function releaseDevices(): Promise<void> {
  const { closeSharedDevice } = await import('../optimized/webgpu/device.ts');
  const { closeGpuJsDevice } = await import('../optimized/gpujs/mode.ts');
  await closeSharedDevice();
  await closeGpuJsDevice();
}
