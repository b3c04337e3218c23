// `modernbert tune` on SwiftShader over a reduced space (its times only exercise the machinery), the cache it
// writes, and the engine reading it (or a committed table) back: a tuned tile is what the kernels then run, and
// still correct.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireDevice } from '../../optimized/webgpu/device.ts';
import * as gemm from '../../optimized/webgpu/kernels/gemm.ts';
import { Launcher } from '../../optimized/webgpu/kernels/launch.ts';
import { BufferPool } from '../../optimized/webgpu/memory.ts';
import { loadTuning, readTuningCache } from '../../optimized/webgpu/tuning-cache.ts';
import { tune, writeTuning } from '../../benchmarks/tune.ts';
import { type Tuning, adapterKey, tunedAttentionTiles, tunedGemmTile } from '../../optimized/webgpu/tuning.ts';
import { read, values } from './harness.ts';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'modernbert.js');
const tempFile = (name: string) => join(mkdtempSync(join(tmpdir(), 'modernbert-tune-')), name);

function choice(M: number, tile: gemm.GemmTile): Tuning['gemm'][number] {
  return { M, N: 96, K: 64, epilogue: 'none', dtypes: 'f32.f32.f32', tile, ms: 1, defaultMs: 2 };
}

describe('modernbert tune', () => {
  const saved = process.env.MODERNBERT_TUNING;
  afterEach(() => {
    if (saved === undefined) delete process.env.MODERNBERT_TUNING;
    else process.env.MODERNBERT_TUNING = saved;
  });

  it('times the candidates of every shape and writes the fastest matching one per shape to the cache', async () => {
    const cache = tempFile('tuning.json');
    const r = spawnSync(process.execPath, [CLI, 'tune', '--config', 'small', '--tokens', '32', '--dtype', 'f32', '--space', 'reduced', '--runs', '1', '--warmup', '0', '--cache', cache], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^tuning on .*SwiftShader.*these times only exercise the tuner/);
    expect(lines[1]).toBe('| kernel | shape | default | default_ms | chosen | chosen_ms | speedup | matched |');
    // small: hidden 256, intermediate 384, 4 heads of 64: the layer's 4 GEMMs and global and local attention
    const shapes = lines.slice(3, -1).map((l) => l.split('|')[2].trim());
    expect(shapes).toEqual(['M=32 N=768 K=256 none f32.f32.f32', 'M=32 N=256 K=256 residual f32.f32.f32', 'M=32 N=384 K=256 glu f32.f32.f32', 'M=32 N=256 K=384 residual f32.f32.f32', 'global T=32 H=4 D=64 f32', 'local T=32 H=4 D=64 f32']);
    // Every candidate matched the default's output: for the GEMMs (grids of 1 to 12 workgroups) v4's default, v2's
    // default and v4's split in 2 slices of K; for attention the two tiles.
    for (const l of lines.slice(3, 7)) expect(l).toMatch(/\| 3\/3 \|$/);
    for (const l of lines.slice(7, -1)) expect(l).toMatch(/\| 2\/2 \|$/);
    expect(r.stderr.split('\n').filter((l) => /all \(ms\): v4 16x16\/tm\d\/tn4\/tk16 [\d.]+, 16x16\/tm4\/tk16 [\d.]+, v4 16x16\/tm\d\/tn4\/tk16\/sk2 \d/.test(l))).toHaveLength(4); // v4's default, v2's, v4's split in 2 (the progress log)
    // where a shape's tuning time goes besides the timed runs (on a GPU: pipeline compilation, the readback)
    expect(r.stderr.match(/first runs \(compilation, readback, check\): [\d.]+ s, the slowest \S.* \d+ ms/g)).toHaveLength(6);
    expect(lines.at(-1)).toBe(`wrote ${cache}`);
    const tuning = Object.values((await readTuningCache(cache)).adapters)[0];
    expect(tuning.adapter).toMatch(/swiftshader/i);
    expect(tuning.gemm.map((c) => `${c.M} ${c.N} ${c.K} ${c.epilogue} ${c.dtypes}`)).toEqual(['32 768 256 none f32.f32.f32', '32 256 256 residual f32.f32.f32', '32 384 256 glu f32.f32.f32', '32 256 384 residual f32.f32.f32']);
    // Each shape's choice is the fastest of the candidates that matched the default (the progress log times them all).
    const logged = [...r.stderr.matchAll(/chosen (.+?) ([\d.]+) ms \(.*\n\s+all \(ms\): (.*)/g)].map(([, chosen, ms, all]) => ({ chosen, ms: Number(ms), all: [...all.matchAll(/(.+?) ([\d.]+)( \(differs\))?(?:, |$)/g)] }));
    expect(logged.map((l) => l.all.length)).toEqual([3, 3, 3, 3, 2, 2]);
    for (const { chosen, ms, all } of logged) {
      const matched = all.filter(([, , , differs]) => !differs);
      expect(matched.map(([, name]) => name)).toContain(chosen);
      expect(ms).toBe(Math.min(...matched.map(([, , t]) => Number(t))));
    }
    expect(tuning.gemm.map((c) => gemm.tileName(c.tile))).toEqual(logged.slice(0, 4).map((l) => l.chosen));
    expect(tuning.attention.map((c) => `${c.window} ${c.D} ${c.dtype} ${c.maxSeqlen}`)).toEqual(['global 64 f32 32', 'local 64 f32 32']);
  });

  it('times the tensor-core GEMM where the device lists a matrix shape, and logs a candidate the device rejects without stopping', async () => {
    // SwiftShader has no subgroup matrices: a context that claims one makes the sgmat candidate fail to compile
    const real = await acquireDevice();
    const ctx = { ...real, subgroupMatrix: { configs: [{ componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 }], subgroupMaxSize: 32 } };
    const log: string[] = [];
    try {
      const { tuning, rows } = await tune(ctx, { configs: ['small'], tokens: [32], dtypes: ['f16'], space: 'reduced', runs: 1, warmup: 0, progress: (m) => log.push(m) });
      // the shape in three workgroup tiles, each on every GEMM (x and W in f16)
      const matrixRows = rows.filter((r) => r.candidate.startsWith('sgmat 16x16x16'));
      const tiles = ['sgmat 16x16x16 128x128/tk32', 'sgmat 16x16x16 64x128/tk32', 'sgmat 16x16x16 128x64/tk32'];
      expect([...new Set(matrixRows.map((r) => r.candidate))]).toEqual(tiles);
      for (const t of tiles) expect(matrixRows.filter((r) => r.candidate === t).map((r) => r.dtype)).toEqual(['f16.f16.f16', 'f16.f16.f32', 'f16.f16.f16', 'f16.f16.f32']);
      for (const r of matrixRows) expect([r.ms, r.matches, r.chosen]).toEqual([Infinity, false, false]);
      expect(log.join('\n')).toMatch(/sgmat 16x16x16 128x128\/tk32 failed: WebGPU error: .*f16/);
      expect(tuning.gemm.map((c) => c.tile.kernel ?? 'v2')).not.toContain('sgmat');
      // each shape: one choice, the fastest candidate that matched
      for (const shape of new Set(rows.map((r) => `${r.kernel} ${r.shape} ${r.dtype}`))) {
        const candidates = rows.filter((r) => `${r.kernel} ${r.shape} ${r.dtype}` === shape);
        const chosen = candidates.filter((r) => r.chosen);
        expect(chosen, shape).toHaveLength(1);
        expect(chosen[0].ms, shape).toBe(Math.min(...candidates.filter((r) => r.matches).map((r) => r.ms)));
      }
      // the device is still good: the next kernels ran and matched
      expect(rows.filter((r) => r.kernel === 'attention').every((r) => r.matches)).toBe(true);
    } finally {
      real.device.destroy();
    }
  });

  it('merges new choices into the cache: a shape tuned again is replaced, others are kept', async () => {
    const cache = tempFile('tuning.json');
    const base: Tuning = { adapter: 'a / b / c', date: 'd', gemm: [choice(512, gemm.SMALL_TILE), choice(8192, gemm.LARGE_TILE)], attention: [] };
    await writeTuning(cache, base);
    await writeTuning(cache, { ...base, gemm: [choice(512, gemm.LARGE_TILE)] });
    await writeTuning(cache, { ...base, adapter: 'other', gemm: [] });
    const written = await readTuningCache(cache);
    expect(Object.keys(written.adapters)).toEqual(['a / b / c', 'other']);
    expect(written.adapters['a / b / c'].gemm.map((c) => [c.M, c.tile])).toEqual([
      [8192, gemm.LARGE_TILE],
      [512, gemm.LARGE_TILE],
    ]);
  });

  it('looks a shape up by N, K, epilogue and dtypes, at the nearest M; attention by D, dtype, window kind, nearest length', () => {
    const tuning: Tuning = {
      adapter: 'x',
      date: 'd',
      gemm: [choice(512, gemm.SMALL_TILE), choice(8192, gemm.LARGE_TILE)],
      attention: [{ D: 64, dtype: 'f16', window: 'local', maxSeqlen: 512, tiles: { BR: 32, BC: 16 }, ms: 1, defaultMs: 1 }],
    };
    const shape = { N: 96, K: 64, epilogue: 'none' as const, dtypes: { x: 'f32' as const, W: 'f32' as const, y: 'f32' as const } };
    expect(tunedGemmTile(tuning, { ...shape, M: 600 })).toBe(gemm.SMALL_TILE);
    expect(tunedGemmTile(tuning, { ...shape, M: 4000 })).toBe(gemm.LARGE_TILE);
    expect(tunedGemmTile(tuning, { ...shape, M: 600, K: 32 })).toBeNull();
    expect(tunedGemmTile(tuning, { ...shape, M: 600, dtypes: { x: 'f16', W: 'f16', y: 'f16' } })).toBeNull();
    expect(tunedGemmTile(null, { ...shape, M: 600 })).toBeNull();
    expect(tunedAttentionTiles(tuning, { D: 64, dtype: 'f16', window: 'local', maxSeqlen: 8192 })).toEqual({ BR: 32, BC: 16 });
    expect(tunedAttentionTiles(tuning, { D: 64, dtype: 'f16', window: 'global', maxSeqlen: 512 })).toBeNull();
  });

  it("a model runs its adapter's tuned tile (override constants as tuned), with the same result as the default; an explicit tile wins", async () => {
    const cache = tempFile('tuning.json');
    const ctx = await acquireDevice();
    const tile: gemm.GemmTile = { WG_M: 4, WG_N: 16, TM: 4, TK: 4 };
    await writeTuning(cache, { adapter: adapterKey(ctx.adapter), date: 'd', gemm: [choice(65, tile)], attention: [] });
    process.env.MODERNBERT_TUNING = cache;
    try {
      const { tuning, source } = await loadTuning(ctx.adapter);
      expect([tuning?.gemm, source]).toEqual([[choice(65, tile)], cache]);
      const l = new Launcher(ctx, new BufferPool(ctx.device));
      const constants: Record<string, number>[] = [];
      const dispatch = l.dispatch.bind(l);
      l.dispatch = (kernel, c, ...rest) => (constants.push(c), dispatch(kernel, c, ...rest));
      const x = l.upload(Float32Array.from(values(65 * 64, 1)), 'x');
      const W = l.upload(Float32Array.from(values(96 * 64, 2)), 'W');
      const outputs: Float32Array[] = [];
      const shape = { M: 65, N: 96, K: 64, epilogue: 'none' as const, dtypes: { x: 'f32', W: 'f32', y: 'f32' } as const };
      for (const explicit of [undefined, gemm.SMALL_TILE]) {
        const y = l.pool.storage(65 * 96 * 4, 'y');
        gemm.run(l, { ...shape, x, W, bias: null, y, tile: explicit, tuned: tunedGemmTile(tuning, shape) });
        outputs.push(await read(l, y, 65 * 96));
      }
      expect(constants[0]).toMatchObject(tile); // tuned, from the cache
      expect(constants[1]).toMatchObject(gemm.SMALL_TILE); // an explicit tile wins
      expect(outputs[0]).toEqual(outputs[1]);
    } finally {
      ctx.device.destroy();
    }
  });

  it('with no entry in the local cache, the committed table for the adapter (the cache wins where both have one)', async () => {
    const adapter = { vendor: 'v', architecture: 'a', description: 'd' };
    const tables = mkdtempSync(join(tmpdir(), 'modernbert-tuned-'));
    const table = join(tables, 'v-a-d.json');
    await writeTuning(table, { adapter: adapterKey(adapter), date: 'd', gemm: [choice(512, gemm.LARGE_TILE)], attention: [] });
    await writeTuning(join(tables, 'other.json'), { adapter: 'someone else', date: 'd', gemm: [choice(512, gemm.SMALL_TILE)], attention: [] });
    const savedTables = process.env.MODERNBERT_TUNED_TABLES;
    process.env.MODERNBERT_TUNED_TABLES = tables;
    try {
      process.env.MODERNBERT_TUNING = tempFile('absent.json');
      expect(await loadTuning(adapter)).toEqual({ tuning: expect.objectContaining({ gemm: [choice(512, gemm.LARGE_TILE)] }), source: table });
      expect(await loadTuning({ ...adapter, description: 'another GPU' })).toEqual({ tuning: null, source: null });
      const cache = tempFile('tuning.json');
      await writeTuning(cache, { adapter: adapterKey(adapter), date: 'd', gemm: [choice(512, gemm.SMALL_TILE)], attention: [] });
      process.env.MODERNBERT_TUNING = cache;
      expect(await loadTuning(adapter)).toEqual({ tuning: expect.objectContaining({ gemm: [choice(512, gemm.SMALL_TILE)] }), source: cache });
    } finally {
      if (savedTables === undefined) delete process.env.MODERNBERT_TUNED_TABLES;
      else process.env.MODERNBERT_TUNED_TABLES = savedTables;
    }
  });

  it('a malformed cache is an error naming the file and the field; bad options exit 2', async () => {
    const cache = tempFile('tuning.json');
    writeFileSync(cache, '{"version": 1, "adapters": {"x": {"gemm": [{"M": 0}], "attention": []}}}');
    await expect(readTuningCache(cache)).rejects.toThrow(`${cache}: field "adapters["x"].gemm[0]" needs positive integers`);
    const tile = (extra: string) => `{"version": 1, "adapters": {"x": {"gemm": [{"M": 1, "N": 1, "K": 4, "tile": {"WG_M": 1, "WG_N": 1, "TM": 4, "TK": 4, ${extra}}}], "attention": []}}}`;
    writeFileSync(cache, tile('"kernel": "v9"'));
    await expect(readTuningCache(cache)).rejects.toThrow(`${cache}: field "adapters["x"].gemm[0].tile.kernel" must be "v2", "v3", "v4" or "sgmat", got "v9"`);
    const matrix = (fields: string) => `{"version": 1, "adapters": {"x": {"gemm": [{"M": 1, "N": 1, "K": 4, "tile": {"kernel": "sgmat", ${fields}}}], "attention": []}}}`;
    writeFileSync(cache, matrix('"SM": 16, "SN": 16, "SK": 12'));
    await expect(readTuningCache(cache)).rejects.toThrow(`${cache}: field "adapters["x"].gemm[0].tile" of kernel "sgmat": K = 12 must be 8, 16 or 32`);
    writeFileSync(cache, matrix('"SM": 16, "SN": 16, "SK": 16, "BM": 96'));
    await expect(readTuningCache(cache)).rejects.toThrow(`${cache}: field "adapters["x"].gemm[0].tile" of kernel "sgmat": BM = 96 and BW = 128 must be 64 or 128`);
    writeFileSync(cache, matrix('"SM": 16, "SN": 16, "SK": 16, "emulated": true'));
    await expect(readTuningCache(cache)).rejects.toThrow(`${cache}: field "adapters["x"].gemm[0].tile.emulated" is for tests; a tuned choice runs on the adapter`);
    writeFileSync(cache, matrix('"SM": 16, "SN": 16, "SK": 16'));
    expect((await readTuningCache(cache)).adapters.x.gemm[0].tile).toEqual({ kernel: 'sgmat', SM: 16, SN: 16, SK: 16 });
    writeFileSync(cache, tile('"kernel": "v3", "TN": 6'));
    await expect(readTuningCache(cache)).rejects.toThrow(`${cache}: field "adapters["x"].gemm[0].tile.TN" must be 4 or 8, got 6`);
    writeFileSync(cache, tile('"splitK": 0'));
    await expect(readTuningCache(cache)).rejects.toThrow(`${cache}: field "adapters["x"].gemm[0].tile.splitK" must be an integer from 1 to 16, got 0`);
    writeFileSync(cache, 'not json');
    process.env.MODERNBERT_TUNING = cache;
    await expect(loadTuning({ vendor: 'v', architecture: 'a', description: 'd' })).rejects.toThrow(`${cache}: not JSON`);
    for (const [args, message] of [
      [['--space', 'huge'], /--space must be full or reduced, got "huge"/],
      [['--tokens', '0'], /--tokens: "0" is not a positive integer/],
      [['--dtype', 'bf16'], /--dtype: "bf16" is not f32 or f16/],
      [['--config', 'giant'], /unknown model config "giant"/],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI, 'tune', ...args], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(message);
    }
    expect(readFileSync(cache, 'utf8')).toBe('not json'); // nothing was written
  });
});
