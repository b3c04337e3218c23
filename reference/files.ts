// Node file IO for checkpoints: config.json, safetensors files (single or sharded), atomic writes. Everything
// else in reference/ works on bytes and objects, so the model and the WebGPU engine also run in a browser.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Checkpoint, CheckpointError, type LoadOptions, weightsFromTensors } from './checkpoint.ts';
import { ConfigError, type ModernBertConfig, configToJson, parseConfig } from './config.ts';
import type { Precision } from './ops.ts';
import { type ModernBertTokenizer, TokenizerError, parseTokenizer } from './tokenizer.ts';
import { type HeaderEntry, type SafetensorsFile, SafetensorsError, type Tensor, encodeSafetensors, headerLength, parseHeader, tensorOver } from './safetensors.ts';

export function loadConfig(file: string): ModernBertConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(json, file);
}

function readExactly(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, Math.min(target.length - done, 1 << 30), position + done);
    if (n === 0) throw new SafetensorsError(`${file}: unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

/** Reads a whole safetensors file. Tensors are read one by one, so no buffer holds the whole file. */
export function readSafetensors(file: string): SafetensorsFile {
  return withSafetensors(file, (fd, { entries, metadata, dataStart }) => {
    const tensors = new Map<string, Tensor>();
    for (const e of entries) {
      const bytes = new Uint8Array(e.end - e.begin);
      readExactly(fd, bytes, dataStart + e.begin, file);
      tensors.set(e.name, tensorOver(e, bytes.buffer));
    }
    return { tensors, metadata };
  });
}

/** The validated header of a safetensors file (names, dtypes, shapes), reading no tensor data. */
export function readSafetensorsHeader(file: string): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  return withSafetensors(file, (_, { entries, metadata }) => ({ entries, metadata }));
}

function withSafetensors<R>(file: string, use: (fd: number, header: { entries: HeaderEntry[]; metadata: Record<string, string>; dataStart: number }) => R): R {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new SafetensorsError(`${file}: cannot open: ${(e as Error).message}`);
  }
  try {
    const fileBytes = fstatSync(fd).size;
    const first8 = new Uint8Array(8);
    if (fileBytes >= 8) readExactly(fd, first8, 0, file);
    const n = headerLength(first8, fileBytes, file);
    const headerBytes = new Uint8Array(n);
    readExactly(fd, headerBytes, 8, file);
    const dataStart = 8 + n;
    return use(fd, { ...parseHeader(headerBytes, fileBytes - dataStart, file), dataStart });
  } finally {
    closeSync(fd);
  }
}


/** Writes a safetensors file atomically: to a temporary file first, renamed into place when complete. */
export function writeSafetensors(file: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Reads the safetensors of a checkpoint folder: model.safetensors, or the shards of model.safetensors.index.json. */
export function readCheckpointTensors(dir: string): Map<string, Tensor> {
  const single = join(dir, 'model.safetensors');
  const indexFile = join(dir, 'model.safetensors.index.json');
  if (existsSync(single)) return readSafetensors(single).tensors;
  if (!existsSync(indexFile)) throw new CheckpointError(`${dir}: no model.safetensors and no model.safetensors.index.json`);
  let weightMap: Record<string, unknown>;
  try {
    weightMap = JSON.parse(readFileSync(indexFile, 'utf8')).weight_map;
  } catch (e) {
    throw new CheckpointError(`${indexFile}: not valid JSON (${(e as Error).message})`);
  }
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap)) throw new CheckpointError(`${indexFile}: field "weight_map" must be an object {tensor: shard file}`);
  const shards = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) throw new CheckpointError(`${indexFile}: field "weight_map.${name}" must be a file name in the folder`);
    shards.set(shard, [...(shards.get(shard) ?? []), name]);
  }
  const tensors = new Map<string, Tensor>();
  for (const [shard, listed] of shards) {
    const file = join(dir, shard);
    const shardTensors = readSafetensors(file).tensors;
    for (const name of listed) {
      if (!shardTensors.has(name)) throw new CheckpointError(`${file}: tensor "${name}" is listed in model.safetensors.index.json but not in this shard`);
    }
    for (const [name, t] of shardTensors) {
      if (weightMap[name] !== shard) throw new CheckpointError(`${file}: tensor "${name}" is not listed for this shard in model.safetensors.index.json`);
      tensors.set(name, t);
    }
  }
  return tensors;
}

/** Loads an HF checkpoint folder in the given precision (fp16/bf16 weights are converted). */
export function loadCheckpoint(dir: string, p: Precision, options: LoadOptions = {}): Checkpoint {
  const config = loadConfig(join(dir, 'config.json'));
  const tensors = readCheckpointTensors(dir);
  return { config, weights: weightsFromTensors(config, tensors, p, dir, options) };
}

/** Writes config.json and model.safetensors (float32 tensors as given), each atomically. */
export function saveCheckpoint(dir: string, config: ModernBertConfig, tensors: Map<string, Tensor>): void {
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(configToJson(config), null, 2) + '\n');
}


/** tokenizer.json (required) and tokenizer_config.json (required: it names the special tokens) of a folder. */
export function loadTokenizer(dir: string): ModernBertTokenizer {
  const read = (name: string): unknown => {
    const file = join(dir, name);
    if (!existsSync(file)) throw new TokenizerError(`${file}: file not found`);
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new TokenizerError(`${file}: not valid JSON (${(e as Error).message})`);
    }
  };
  return parseTokenizer(read('tokenizer.json'), read('tokenizer_config.json'), dir);
}
