// The tuning cache file in Node: where it lives, and reading it (device.ts, when it opens the device; one
// entry per adapter, optimized/webgpu/tuning.ts). `modernbert tune` writes it (benchmarks/tune.ts). node:fs
// is imported when a file is read, so a browser bundle holds no Node import (it is reached only in Node).
import { type TuningCache, validateTuningCache } from './tuning.ts';

/** The tuning cache file: MODERNBERT_TUNING, else ~/.cache/modernbert-ts/tuning.json. */
export function tuningCachePath(): string {
  return process.env.MODERNBERT_TUNING || `${process.env.HOME ?? '.'}/.cache/modernbert-ts/tuning.json`;
}

/** Reads a cache file (an absent file is an empty cache; a malformed one is an error naming it). */
export async function readTuningCache(file: string): Promise<TuningCache> {
  const { existsSync, readFileSync } = await import('node:fs');
  if (!existsSync(file)) return { version: 1, adapters: {} };
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`);
  }
  return validateTuningCache(data, file);
}
