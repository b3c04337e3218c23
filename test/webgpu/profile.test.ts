// `modernbert profile`: per-kernel time of a forward pass, its arithmetic (against the published peak and the
// measured roofline), and its CLI contract.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../reference/config.ts';
import { expectedTensors } from '../../reference/checkpoint.ts';
import { randomSequences } from '../../benchmarks/workloads.ts';
import { sharedDevice } from '../../optimized/webgpu/device.ts';
import { type ProfileReport, type ProfileRow, PROFILE_COLUMNS, formatProfile, knownPeak, profileModel, rooflineBound } from '../../optimized/webgpu/profile.ts';
import { type Roofline, adapterName } from '../../optimized/webgpu/roofline.ts';
import { tempDir } from '../helpers.ts';
import './harness.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'modernbert.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

const config = presetConfig('small');
const L = config.numHiddenLayers;
/** The dispatches of one pass (last hidden state only), per kernel family, from the config. */
const layerNorms = 1 + [...expectedTensors(config).keys()].filter((k) => /^layers\.\d+\.attn_norm\.weight$/.test(k)).length + L + 1; // embeddings, attn (not layer 0), mlp, final
const expectedCalls: [RegExp, number][] = [
  [/^embedding/, 1],
  [/^layernorm/, layerNorms],
  [/^gemm/, 4 * L], // Wqkv, Wo, Wi (GeGLU), mlp Wo
  [/^rope/, L],
  [/attention/, L],
];

const callsOf = (rows: ProfileRow[], family: RegExp) => rows.filter((r) => family.test(r.kernel)).reduce((a, r) => a + r.calls, 0);

/** A made-up roofline for this adapter: round figures make roofline_pct easy to check. */
const rooflineOf = (adapter: string): Roofline => ({ adapter, fma_f32_gflops: 2, fma_f16_gflops: null, workgroup_gbps: 3, global_gbps: 0.5, sgmat_gflops: null, dispatch_us: 7 });

/** Checks the arithmetic of a report's rows (JSON rows or in-memory rows alike); with a roofline, roofline_pct too. */
function expectConsistent(rows: ProfileRow[], dispatches: number, roofline?: Roofline): void {
  for (const [family, calls] of expectedCalls) expect(callsOf(rows, family), String(family)).toBe(calls);
  expect(rows.reduce((a, r) => a + r.calls, 0)).toBe(dispatches);
  expect(rows.reduce((a, r) => a + r.share, 0)).toBeCloseTo(100, 6);
  for (const r of rows) {
    expect(r.total_ms).toBeGreaterThan(0);
    if (r.gflop_s !== null) expect(r.gflop_s).toBeCloseTo(r.flops! / (r.total_ms * 1e-3) / 1e9, 9);
    if (r.gb_s !== null) expect(r.gb_s).toBeCloseTo(r.bytes! / (r.total_ms * 1e-3) / 1e9, 9);
    if (!roofline) continue;
    const bound = rooflineBound(r.kernel);
    const rate = bound === 'global_gbps' ? r.gb_s : r.gflop_s;
    expect(r.roofline_pct, r.kernel).toBeCloseTo((100 * rate!) / roofline[bound]!, 9);
  }
  const norm = rows.find((r) => r.kernel.startsWith('layernorm'))!;
  expect(norm.gflop_s).not.toBeNull(); // LayerNorm's launcher reports its work
}

describe('modernbert profile', () => {
  it('times every dispatch of a pass, per kernel, with calls derived from the config', async () => {
    const ctx = await sharedDevice();
    const roofline = rooflineOf(adapterName(ctx.adapter));
    const report: ProfileReport = await profileModel(ctx, 'small', config, randomSequences([16, 16], config.vocabSize, 42), { runs: 2, roofline });
    expect(report.dispatches).toBe(expectedCalls.reduce((a, [, n]) => a + n, 0));
    expectConsistent(report.rows, report.dispatches, roofline);
    expect(report.rows.map((r) => r.total_ms)).toEqual([...report.rows.map((r) => r.total_ms)].sort((a, b) => b - a));
    const text = formatProfile(report);
    process.stdout.write(text);
    if (ctx.swiftshader) expect(text).toMatch(/SwiftShader, a CPU implementation: timings are correctness-only/);
    expect(text).toContain(ctx.features.timestampQuery ? 'timer: timestamp-query' : 'timer: wall time per dispatch');
    expect(text).toContain('roofline: measured on this adapter: 2.00 GFLOP/s f32 FMA, no subgroup matrices, 0.500 GB/s global;');
  });

  it('falls back to wall time per dispatch, and says so', async () => {
    const ctx = await sharedDevice();
    const report = await profileModel(ctx, 'small', config, randomSequences([8], config.vocabSize, 1), { runs: 1, timer: 'wall' });
    expectConsistent(report.rows, report.dispatches);
    expect(new Set(report.rows.map((r) => r.timer))).toEqual(new Set(['wall']));
    expect(report.rows.every((r) => r.roofline_pct === null)).toBe(true); // no roofline given
    const text = formatProfile(report);
    expect(text).toContain('timer: wall time per dispatch');
    expect(text).toContain('roofline: none (roofline_pct blank)');
  });

  it('--gemm sgmat --attention flash_sgmat: every GEMM and attention row is a subgroup-matrix kernel (emulated here), and the header says what computes in f16', async () => {
    const ctx = await sharedDevice();
    const report = await profileModel(ctx, 'small', config, randomSequences([8], config.vocabSize, 1), { runs: 1, timer: 'wall', dtype: 'f16', kernels: { gemm: 'sgmat', attention: 'flash_sgmat' } });
    const gemms = report.rows.filter((r) => r.kernel.startsWith('gemm_'));
    const attentions = report.rows.filter((r) => r.kernel.startsWith('flash_'));
    expect([gemms.length, attentions.length]).toEqual([4, 1]); // Wqkv, Wo, Wi (GLU), the MLP's Wo; one head dim
    for (const r of gemms) expect(r.kernel).toMatch(ctx.subgroupMatrix ? /^gemm_sgmat_x/ : /^gemm_sgmat_emulated_x/);
    for (const r of attentions) expect(r.kernel).toMatch(ctx.subgroupMatrix ? /^flash_attention_sgmat_d/ : /^flash_attention_sgmat_emulated_d/);
    expect(formatProfile(report)).toContain('(f16 storage, f16 x f16 -> f32 products on subgroup matrices), every GEMM on sgmat, every attention on flash_sgmat,');
  });

  it('knows the peaks of a few GPUs by their adapter description, and no others', () => {
    expect(knownPeak({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' })).toMatchObject({ gflops: 67_000, gbs: 3_350 });
    expect(knownPeak({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' })).toMatchObject({ gflops: 67_000, gbs: 4_800 });
    expect(knownPeak({ vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader driver 5.0.0' })).toBeNull();
  });

  it('prints the table from the CLI (exit 0), with the roofline it measured first', () => {
    const table = cli('profile', '--config', 'small', '--lengths', '16x2', '--runs', '1');
    expect(table.status, table.stderr).toBe(0);
    const lines = table.stdout.split('\n');
    const header = lines.findIndex((l) => l.startsWith('kernel'));
    expect(lines[header].split('|').map((c) => c.trim())).toEqual([...PROFILE_COLUMNS]);
    const rows = lines.slice(header + 2, lines.indexOf('', header));
    expect(rows.length).toBeGreaterThanOrEqual(expectedCalls.length);
    for (const row of rows) expect(row.split('|')).toHaveLength(PROFILE_COLUMNS.length);
    for (const row of rows) expect(row.split('|').at(-1)!.trim(), row).toMatch(/^\d+\.\d$/); // every kernel here reports its work
    expect(table.stdout).toMatch(/^roofline: measured on this adapter: [\d.]+ GFLOP\/s f32 FMA, /m);
    expect(table.stdout).toMatch(/^per pass: \d+ dispatches, [\d.]+ ms in kernels, [\d.]+ ms CPU encode/m);
  });

  it('prints one JSON object per kernel with --json, against a roofline read from --roofline FILE', async () => {
    const roofline = rooflineOf(adapterName((await sharedDevice()).adapter));
    const file = join(tempDir(), 'roofline.json');
    writeFileSync(file, JSON.stringify(roofline));
    const json = cli('profile', '--config', 'small', '--lengths', '16x2', '--runs', '1', '--json', '--roofline', file);
    expect(json.status, json.stderr).toBe(0);
    const objects = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as ProfileRow);
    for (const o of objects) expect(Object.keys(o)).toEqual([...PROFILE_COLUMNS, 'flops', 'bytes', 'timer']);
    expectConsistent(objects, objects.reduce((a, r) => a + r.calls, 0), roofline);
  });

  it('exits 2 with one line on stderr for bad input', () => {
    const badRoofline = join(tempDir(), 'roofline.json');
    writeFileSync(badRoofline, JSON.stringify({ adapter: 'x' }));
    for (const [args, message] of [
      [['--config', 'huge', '--lengths', '16x2'], /unknown model config "huge"/],
      [['--config', 'small', '--lengths', '16xx2'], /--lengths: "16xx2" is not LEN or LENxCOUNT/],
      [['--config', 'small'], /--lengths is required/],
      [['--config', 'small', '--lengths', '16', '--runs', '0'], /--runs must be a positive integer, got "0"/],
      [['--config', 'small', '--lengths', '16', '--roofline', '/nonexistent/roofline.json'], /ENOENT.*\/nonexistent\/roofline.json/],
      [['--config', 'small', '--lengths', '16', '--roofline', badRoofline], /--roofline .*: missing fma_f32_gflops/],
    ] as const) {
      const r = cli('profile', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    // another adapter's roofline: found out once the device is open (SwiftShader announces itself first)
    const other = join(tempDir(), 'other.json');
    writeFileSync(other, JSON.stringify(rooflineOf('another GPU')));
    const r = cli('profile', '--config', 'small', '--lengths', '16', '--roofline', other);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('webgpu:'))).toEqual([expect.stringMatching(/^modernbert profile: --roofline .* was measured on "another GPU", not on this adapter \(".+"\)$/)]);
  });
});
