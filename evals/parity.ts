// `modernbert parity` in Node: reads a golden case folder (config.json, model.safetensors or shards,
// io.safetensors) and runs evals/parity-check.ts on it.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadConfig, readCheckpointTensors, readSafetensors } from '../reference/files.ts';
import type { KernelChoice } from '../optimized/webgpu/kernels/tiles.ts';
import { type ComputeDtype, type GoldenCase, type ParityResult, type PrecisionName, type StorageName, ParityInputError, checkParity, evaluateParity, parityRunner } from './parity-check.ts';
import { asForwardOutput, readOutputs } from './outputs-file.ts';
import type { PackedBatch } from '../reference/unpad.ts';

export function readGoldenCase(caseDir: string): GoldenCase {
  const dir = resolve(caseDir);
  const configFile = join(dir, 'config.json');
  const ioFile = join(dir, 'io.safetensors');
  if (!existsSync(configFile)) throw new ParityInputError(`${configFile}: file not found`);
  if (!existsSync(ioFile)) throw new ParityInputError(`${ioFile}: file not found`);
  const config = loadConfig(configFile);
  const io = readSafetensors(ioFile).tensors;
  const weightsDir = linkedWeights(dir) ?? dir;
  return { name: basename(dir), config, checkpoint: readCheckpointTensors(weightsDir), checkpointSource: join(weightsDir, 'model.safetensors'), io, ioFile };
}

/** With `golden make --weights link` a case holds this pointer file ({"model": DIR}) instead of the weights. */
export const WEIGHTS_POINTER = 'weights.json';

/** The checkpoint folder a case made with `golden make --weights link` points to (weights.json {"model": DIR}), or null. */
function linkedWeights(dir: string): string | null {
  const pointer = join(dir, WEIGHTS_POINTER);
  if (!existsSync(pointer)) return null;
  let model: unknown;
  try {
    model = JSON.parse(readFileSync(pointer, 'utf8')).model;
  } catch (e) {
    throw new ParityInputError(`${pointer}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof model !== 'string') throw new ParityInputError(`${pointer}: field "model" must be the checkpoint folder's path`);
  const target = resolve(dir, model);
  if (!existsSync(target)) throw new ParityInputError(`${pointer}: field "model": ${target}: folder not found`);
  return target;
}

export async function runParity(caseDir: string, backend: string, precision: PrecisionName, dtype?: StorageName, kernels: KernelChoice = {}): Promise<ParityResult> {
  parityRunner(backend); // an unknown backend fails before a large checkpoint is read
  return checkParity(readGoldenCase(caseDir), backend, precision, dtype, kernels);
}

/**
 * Another implementation's outputs (`--outputs [name=]FILE`, renamed by `map`) against a golden case: the same
 * result and tolerances as a backend's, with backend "outputs"; the outputs the files give are compared. `dtype`:
 * the outputs were computed in float16 / bfloat16, checked with LOW_PRECISION_TOLERANCE.
 */
export async function runParityOnOutputs(caseDir: string, files: readonly string[], map: Record<string, string>, precision: PrecisionName, dtype?: ComputeDtype): Promise<ParityResult> {
  const golden = readGoldenCase(caseDir);
  const outputs = readOutputs(files, map);
  const L = golden.io.get('input_ids')?.shape[1] ?? 0;
  const runner = async (g: GoldenCase, _p: PrecisionName, batch: PackedBatch) => asForwardOutput(outputs, g.config, batch, L);
  return (await evaluateParity(golden, 'outputs', precision, undefined, { runner, provides: new Set(outputs.keys()), dtype })).result;
}
