// `modernbert parity` in Node: reads a golden case folder (config.json, model.safetensors or shards,
// io.safetensors) and runs evals/parity-check.ts on it.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadConfig, readCheckpointTensors, readSafetensors } from '../reference/files.ts';
import { type GoldenCase, type ParityResult, type PrecisionName, type StorageName, ParityInputError, checkParity, parityRunner } from './parity-check.ts';

export function readGoldenCase(caseDir: string): GoldenCase {
  const dir = resolve(caseDir);
  const configFile = join(dir, 'config.json');
  const ioFile = join(dir, 'io.safetensors');
  if (!existsSync(configFile)) throw new ParityInputError(`${configFile}: file not found`);
  if (!existsSync(ioFile)) throw new ParityInputError(`${ioFile}: file not found`);
  const config = loadConfig(configFile);
  const io = readSafetensors(ioFile).tensors;
  return { name: basename(dir), config, checkpoint: readCheckpointTensors(dir), checkpointSource: join(dir, 'model.safetensors'), io, ioFile };
}

export async function runParity(caseDir: string, backend: string, precision: PrecisionName, dtype?: StorageName): Promise<ParityResult> {
  parityRunner(backend); // an unknown backend fails before a large checkpoint is read
  return checkParity(readGoldenCase(caseDir), backend, precision, dtype);
}
