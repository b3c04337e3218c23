// `modernbert tune`: times kernel tile shapes on this adapter and writes the fastest that match the default
// kernels' output to the tuning cache (or, with --table, to the adapter's committed table in
// optimized/webgpu/tuned/), which the engine reads when it makes a model.
import { parseArgs } from 'node:util';
import { presetConfig } from '../reference/config.ts';
import type { DType } from '../optimized/webgpu/kernels/storage.ts';
import { sharedDevice } from '../optimized/webgpu/device.ts';
import { type TuneRow, tune, writeTuning } from '../benchmarks/tune.ts';
import { tunedTablesDir, tuningCachePath } from '../optimized/webgpu/tuning-cache.ts';
import { adapterKey, tunedTableName } from '../optimized/webgpu/tuning.ts';

export async function tuneCommand(args: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', default: 'base,large' },
      tokens: { type: 'string', default: '512,8192' },
      dtype: { type: 'string', default: 'f32,f16' },
      space: { type: 'string', default: 'full' },
      runs: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      cache: { type: 'string' },
      table: { type: 'boolean', default: false },
      'shape-seconds': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const configs = list(values.config, '--config');
  for (const c of configs) presetConfig(c); // an unknown preset fails before the device opens
  const tokens = list(values.tokens, '--tokens').map((t) => positiveInteger(t, '--tokens'));
  const dtypes = list(values.dtype, '--dtype').map((d) => {
    if (d !== 'f32' && d !== 'f16') throw new Error(`--dtype: "${d}" is not f32 or f16`);
    return d as DType;
  });
  if (values.space !== 'full' && values.space !== 'reduced') throw new Error(`--space must be full or reduced, got "${values.space}"`);
  const runs = positiveInteger(values.runs, '--runs');
  const warmup = Number(values.warmup);
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new Error(`--warmup must be an integer >= 0, got "${values.warmup}"`);
  const shapeSeconds = values['shape-seconds'] === undefined ? undefined : Number(values['shape-seconds']);
  if (shapeSeconds !== undefined && !(shapeSeconds > 0)) throw new Error(`--shape-seconds must be a positive number, got "${values['shape-seconds']}"`);
  if (values.table && values.cache) throw new Error('give --cache FILE or --table, not both');

  const ctx = await sharedDevice();
  const cache = values.table ? `${tunedTablesDir()}/${tunedTableName(adapterKey(ctx.adapter))}` : (values.cache ?? tuningCachePath());
  const { tuning, rows } = await tune(ctx, { configs, tokens, dtypes, space: values.space, runs, warmup, shapeSeconds, progress: (m) => err(`tune: ${m}\n`), checkpoint: (t) => writeTuning(cache, t) });
  await writeTuning(cache, tuning);
  if (values.json) out(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  else out(table(rows, tuning.adapter, ctx.swiftshader, cache));
  return 0;
}

/** One line per shape: the default, the chosen candidate, their times, and how many candidates matched. */
function table(rows: TuneRow[], adapter: string, swiftshader: boolean, cache: string): string {
  const shapes = new Map<string, TuneRow[]>();
  for (const r of rows) shapes.set(`${r.kernel} ${r.shape} ${r.dtype}`, [...(shapes.get(`${r.kernel} ${r.shape} ${r.dtype}`) ?? []), r]);
  const lines = [
    `tuning on ${adapter}${swiftshader ? ' (SwiftShader: a CPU emulation; these times only exercise the tuner)' : ''}`,
    '| kernel | shape | default | default_ms | chosen | chosen_ms | speedup | matched |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const [, group] of shapes) {
    const [first] = group;
    const chosen = group.find((r) => r.chosen)!;
    lines.push(`| ${first.kernel} | ${first.shape} ${first.dtype} | ${first.candidate} | ${first.ms.toFixed(4)} | ${chosen.candidate} | ${chosen.ms.toFixed(4)} | ${(first.ms / chosen.ms).toFixed(2)}x | ${group.filter((r) => r.matches).length}/${group.length} |`);
  }
  lines.push(`wrote ${cache}`);
  return lines.join('\n') + '\n';
}

function list(value: string, flag: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new Error(`${flag}: expected a comma-separated list, got "${value}"`);
  return items;
}

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`${flag}: "${value}" is not a positive integer`);
  return n;
}
