// The tuning files in Node: the local tuning cache (`modernbert tune` writes it, benchmarks/tune.ts) and the
// tables committed under optimized/webgpu/tuned/ (each a cache file of the GPUs a tuning run was made on), so a
// fresh clone on such a GPU runs tuned without tuning. The local cache wins. node:fs is imported when a file is
// read, so a browser bundle holds no Node import (it is reached only in Node).
import { type Tuning, type TuningCache, adapterKey, validateTuningCache } from './tuning.ts';

/** The tuning cache file: MODERNBERT_TUNING, else ~/.cache/modernbert-ts/tuning.json. */
export function tuningCachePath(): string {
  return process.env.MODERNBERT_TUNING || `${process.env.HOME ?? '.'}/.cache/modernbert-ts/tuning.json`;
}

/** The folder of committed tuning tables: MODERNBERT_TUNED_TABLES, else optimized/webgpu/tuned. */
export function tunedTablesDir(): string {
  return process.env.MODERNBERT_TUNED_TABLES || `${import.meta.dirname}/tuned`;
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

/**
 * The kernel choices for this adapter and the file they came from: the local cache's entry, else a committed
 * table's, else none (the launchers' default tiles; always so in a browser).
 */
export async function loadTuning(adapter: { vendor: string; architecture: string; description: string }): Promise<{ tuning: Tuning | null; source: string | null }> {
  if (typeof process === 'undefined' || !process.versions?.node) return { tuning: null, source: null }; // a browser: no files
  const key = adapterKey(adapter);
  const cache = tuningCachePath();
  const local = (await readTuningCache(cache)).adapters[key];
  if (local) return { tuning: local, source: cache };
  const { existsSync, readdirSync } = await import('node:fs');
  const dir = tunedTablesDir();
  const tables = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  for (const name of tables) {
    const file = `${dir}/${name}`;
    const table = (await readTuningCache(file)).adapters[key];
    if (table) return { tuning: table, source: file };
  }
  return { tuning: null, source: null };
}
