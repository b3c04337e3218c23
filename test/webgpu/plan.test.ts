// `modernbert plan`: the engine's own allocation plan, with no device and no kernel run.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../reference/config.ts';
import { type MemoryPlan, planMemory } from '../../optimized/webgpu/modernbert.ts';
import { parseLengths } from '../../benchmarks/workloads.ts';

const base = presetConfig('base');

describe('memory plan', () => {
  it('depends on total tokens, not sequence length: 8192x4 and 512x64 within 5%', async () => {
    const long = await planMemory(base, parseLengths('8192x4'));
    const short = await planMemory(base, parseLengths('512x64'));
    expect(long.tokens).toBe(32768);
    expect(short.tokens).toBe(32768);
    expect(Math.abs(long.activation_bytes - short.activation_bytes) / short.activation_bytes).toBeLessThan(0.05);
    // Weights: ModernBERT-base with its MLM head, 149,655,232 fp32 parameters (+ three 16-byte placeholders for absent inputs).
    expect(long.weight_bytes).toBe(149_655_232 * 4 + 3 * 16);
    expect(long.peak_bytes).toBe(long.weight_bytes + long.activation_bytes);
  });

  it('counts the weights packed for the subgroup-matrix GEMM: rows padded to whole tiles, the tied table once', async () => {
    const f16 = await planMemory(base, parseLengths('512x1'), {}, 'f16');
    const packed = await planMemory(base, parseLengths('512x1'), {}, 'f16', { gemm: 'sgmat' });
    // base's layers pad nothing (768, 2304 and 2 x 1152 rows, K 768 and 1152); the embedding table, tied to the
    // decoder and packed once for both, pads its 50,368 rows to 50,432 (a multiple of 128)
    expect(packed.weight_bytes - f16.weight_bytes).toBe((50_432 - 50_368) * 768 * 2);
    expect(packed.activation_bytes).toBe(f16.activation_bytes);
  });

  it('shows what materialized attention costs: scores grow with T x L', async () => {
    const long = await planMemory(base, parseLengths('8192x4'), { materialized: true });
    const short = await planMemory(base, parseLengths('512x64'), { materialized: true });
    const flashLong = await planMemory(base, parseLengths('8192x4'));
    const flashShort = await planMemory(base, parseLengths('512x64'));
    // Beyond what flash attention needs: one layer's scores, 12 heads x 32768 tokens x maxSeqlen floats (and
    // when the peak falls on the attention dispatch, the 16 bytes by which its uniform is larger).
    const extra = (materialized: MemoryPlan, flash: MemoryPlan) => materialized.activation_bytes - flash.activation_bytes;
    expect(extra(long, flashLong) - 12 * 32768 * 8192 * 4).oneOf([0, 16]);
    expect(extra(short, flashShort) - 12 * 32768 * 512 * 4).oneOf([0, 16]);
  });

  it('shows what padding costs: padded execution plans as every sequence at the longest length', async () => {
    const padded = await planMemory(base, parseLengths('512,16x63'), { padded: true });
    const full = await planMemory(base, parseLengths('512x64'));
    const unpadded = await planMemory(base, parseLengths('512,16x63'));
    expect(padded.activation_bytes).toBe(full.activation_bytes + 64 * 4); // + sequsedK, a u32 per sequence
    expect(padded.tokens).toBe(512 + 16 * 63);
    expect(unpadded.activation_bytes).toBeLessThan(padded.activation_bytes / 10);
  });

  it('halves the weights and shrinks the activations in f16 storage (the residual stream stays f32), activations still linear in tokens', async () => {
    const f32 = await planMemory(base, parseLengths('512x64'));
    const f16 = await planMemory(base, parseLengths('512x64'), {}, 'f16');
    // The matrices (linear weights, embeddings) halve; LayerNorm weights stay f32: within 1% of half.
    expect(Math.abs(f16.weight_bytes / f32.weight_bytes - 0.5)).toBeLessThan(0.01);
    // The residual stream stays f32, so activations shrink but do not halve.
    expect(f16.activation_bytes).toBeLessThan(0.9 * f32.activation_bytes);
    const doubled = await planMemory(base, parseLengths('512x128'), {}, 'f16');
    const long = await planMemory(base, parseLengths('8192x4'), {}, 'f16');
    expect(Math.abs(doubled.activation_bytes / f16.activation_bytes - 2)).toBeLessThan(0.02);
    expect(Math.abs(long.activation_bytes - f16.activation_bytes) / f16.activation_bytes).toBeLessThan(0.05);
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'modernbert.js'), 'plan', '--config', 'base', '--lengths', '512x64', '--dtype', 'f16'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ backend: 'webgpu', dtype: 'f16', tokens: 32768, peak_bytes: f16.peak_bytes, weight_bytes: f16.weight_bytes, activation_bytes: f16.activation_bytes });
    const bad = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'modernbert.js'), 'plan', '--lengths', '512', '--dtype', 'bf16'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--dtype must be f32 or f16, got "bf16"/);
  });

  it('prints one JSON line from the CLI', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'modernbert.js'), 'plan', '--config', 'base', '--lengths', '8192x4', '--backend', 'webgpu'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const line = JSON.parse(r.stdout);
    expect(Object.keys(line)).toEqual(['backend', 'tokens', 'peak_bytes', 'weight_bytes', 'activation_bytes']);
    expect(line.tokens).toBe(32768);
    const bad = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'modernbert.js'), 'plan', '--lengths', '8192x0'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--lengths: "8192x0" is not LEN or LENxCOUNT/);
  });
});
