// Tuned kernel choices per adapter: the tile shapes `modernbert tune` timed fastest (among those whose output
// matched the default kernel's) for the GEMMs and attention at ModernBERT's shapes. The engine looks a shape up
// here and falls back to the launchers' defaults where nothing was tuned. No IO here (it runs in browsers);
// benchmarks/tune.ts measures and writes the cache file, tuning-cache.ts reads it (and the committed tables) in Node.
import type { DType } from './kernels/storage.ts';
import { type AnyGemmTile, type AttentionTiles, type Epilogue, MAX_SPLIT_K, sgmatTileProblem } from './kernels/tiles.ts';

export interface GemmChoice {
  /** the shape it was tuned on (M: the tokens of the pass) */
  M: number;
  N: number;
  K: number;
  epilogue: Epilogue;
  /** storage of x, W and y, e.g. "f16.f16.f32" */
  dtypes: string;
  /** a v2 or v3 tile, or a subgroup-matrix shape (kernel 'sgmat') */
  tile: AnyGemmTile;
  /** the tuned tile's median milliseconds, and the default tile's */
  ms: number;
  defaultMs: number;
}

export interface AttentionChoice {
  D: number;
  dtype: DType;
  /** 'global' (unlimited) or 'local' (a sliding window) */
  window: 'global' | 'local';
  /** the longest sequence it was tuned on */
  maxSeqlen: number;
  tiles: AttentionTiles;
  ms: number;
  defaultMs: number;
}

export interface Tuning {
  /** the adapter's key (adapterKey) */
  adapter: string;
  date: string;
  gemm: GemmChoice[];
  attention: AttentionChoice[];
}

/** The cache file's content: one Tuning per adapter. */
export interface TuningCache {
  version: 1;
  adapters: Record<string, Tuning>;
}

/** An adapter's identity in the cache: vendor / architecture / description (the driver's device name). */
export function adapterKey(adapter: { vendor: string; architecture: string; description: string }): string {
  return [adapter.vendor, adapter.architecture, adapter.description].join(' / ');
}

/** The file name of an adapter's committed tuning table (optimized/webgpu/tuned/): its key, lower case, dashed. */
export function tunedTableName(key: string): string {
  return `${key.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 120) || 'adapter'}.json`;
}

export function dtypesKey(d: { x: DType; W: DType; y: DType }): string {
  return `${d.x}.${d.W}.${d.y}`;
}

/** The tile tuned for this GEMM (same N, K, epilogue and dtypes; the nearest M on a log scale), or null. */
export function tunedGemmTile(tuning: Tuning | null | undefined, s: { M: number; N: number; K: number; epilogue: Epilogue; dtypes: { x: DType; W: DType; y: DType } }): AnyGemmTile | null {
  const key = dtypesKey(s.dtypes);
  const same = tuning?.gemm.filter((c) => c.N === s.N && c.K === s.K && c.epilogue === s.epilogue && c.dtypes === key) ?? [];
  return nearest(same, (c) => Math.abs(Math.log2(c.M) - Math.log2(Math.max(1, s.M))))?.tile ?? null;
}

/** The attention tiles tuned for this head dim, dtype and window kind (the nearest sequence length), or null. */
export function tunedAttentionTiles(tuning: Tuning | null | undefined, s: { D: number; dtype: DType; window: 'global' | 'local'; maxSeqlen: number }): AttentionTiles | null {
  const same = tuning?.attention.filter((c) => c.D === s.D && c.dtype === s.dtype && c.window === s.window) ?? [];
  return nearest(same, (c) => Math.abs(Math.log2(c.maxSeqlen) - Math.log2(Math.max(1, s.maxSeqlen))))?.tiles ?? null;
}

function nearest<T>(list: T[], distance: (x: T) => number): T | undefined {
  return list.reduce<T | undefined>((best, x) => (best === undefined || distance(x) < distance(best) ? x : best), undefined);
}

/** Checks a parsed cache file, naming the file and the field at fault. */
export function validateTuningCache(data: unknown, file: string): TuningCache {
  const fail = (field: string, why: string): never => {
    throw new Error(`${file}: field "${field}" ${why}`);
  };
  if (typeof data !== 'object' || data === null) fail('(root)', 'must be an object');
  const cache = data as TuningCache;
  if (cache.version !== 1) fail('version', `must be 1, got ${JSON.stringify(cache.version)}`);
  if (typeof cache.adapters !== 'object' || cache.adapters === null) fail('adapters', 'must be an object');
  for (const [key, t] of Object.entries(cache.adapters)) {
    if (!Array.isArray(t?.gemm)) fail(`adapters["${key}"].gemm`, 'must be an array');
    if (!Array.isArray(t?.attention)) fail(`adapters["${key}"].attention`, 'must be an array');
    t.gemm.forEach((c, i) => {
      const at = `adapters["${key}"].gemm[${i}]`;
      if (![c?.M, c?.N, c?.K].every((v) => Number.isInteger(v) && v > 0)) fail(at, 'needs positive integers M, N and K');
      const tile = c.tile;
      if (tile?.kernel === 'sgmat') {
        const problem = sgmatTileProblem(tile, c.epilogue === 'glu');
        if (problem) fail(`${at}.tile`, `of kernel "sgmat": ${problem}`);
        if (tile.emulated) fail(`${at}.tile.emulated`, 'is for tests; a tuned choice runs on the adapter');
        return;
      }
      if (![tile?.WG_M, tile?.WG_N, tile?.TM, tile?.TK].every((v) => Number.isInteger(v) && v > 0)) fail(at, 'needs positive integers tile.{WG_M, WG_N, TM, TK}');
      if (tile.kernel !== undefined && tile.kernel !== 'v2' && tile.kernel !== 'v3' && tile.kernel !== 'v4') fail(`${at}.tile.kernel`, `must be "v2", "v3", "v4" or "sgmat", got ${JSON.stringify(tile.kernel)}`);
      if (tile.TN !== undefined && tile.TN !== 4 && tile.TN !== 8) fail(`${at}.tile.TN`, `must be 4 or 8, got ${JSON.stringify(tile.TN)}`);
      if (tile.splitK !== undefined && !(Number.isInteger(tile.splitK) && tile.splitK >= 1 && tile.splitK <= MAX_SPLIT_K)) fail(`${at}.tile.splitK`, `must be an integer from 1 to ${MAX_SPLIT_K}, got ${JSON.stringify(tile.splitK)}`);
    });
    t.attention.forEach((c, i) => {
      if (![c?.D, c?.maxSeqlen, c?.tiles?.BR, c?.tiles?.BC].every((v) => Number.isInteger(v) && v > 0)) fail(`adapters["${key}"].attention[${i}]`, 'needs positive integers D, maxSeqlen and tiles.{BR, BC}');
    });
  }
  return cache;
}
