// The benchmark harness: options, workloads, and the CSV record of a run. Tiny workloads on the small
// config; WebGPU runs on SwiftShader here. test/bench-gate.test.ts tests the regression gate.
import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ONNX_EXPORT_NOTE } from '../benchmarks/peers/onnx-graph.ts';
import { parseBenchArgs } from '../benchmarks/run.ts';
import { RESULT_COLUMNS, parseResultsCsv } from '../benchmarks/results.ts';
import { PAPER_WORKLOADS, parseWorkload, workloadLengths } from '../benchmarks/workloads.ts';
import { bench, tempDir } from './helpers.ts';

describe('bench options', () => {
  it('sizes the suite to the machine', () => {
    expect(parseBenchArgs([], false)).toMatchObject({ suite: 'cpu', config: 'small', backends: ['reference:fp32', 'reference:fp64', 'gpujs:webasm', 'gpujs:cpu'], kernels: false });
    const gpu = parseBenchArgs([], true);
    expect(gpu).toMatchObject({ suite: 'gpu', config: 'base', kernels: true, backends: ['webgpu', 'webgpu:f16', 'webgpu:sgmat', 'webgpu:padded', 'webgpu:materialized', 'gpujs:webgpu'] });
    expect(gpu.workloads.map((w) => w.name)).toEqual(['fixed_short', 'variable_short', 'fixed_long', 'variable_long']);
  });

  it('rejects bad options, naming the option', () => {
    expect(() => parseBenchArgs(['--backends', 'cuda'], false)).toThrow(/--backends: unknown backend "cuda"/);
    expect(() => parseBenchArgs(['--workload', 'long_fixed:2'], false)).toThrow(/--workload: workload "long_fixed" is not one of/);
    expect(() => parseBenchArgs(['--runs', '0'], false)).toThrow(/--runs must be an integer >= 1/);
    expect(() => parseBenchArgs(['--compare', '/nonexistent.csv'], false)).toThrow(/--compare: \/nonexistent.csv: file not found/);
    expect(() => parseBenchArgs(['--inject-slowdown', 'gemm'], false)).toThrow(/--inject-slowdown: "gemm" is not NAME=FACTOR/);
    expect(() => parseBenchArgs(['--config', 'huge'], false)).toThrow(/unknown model config "huge"/);
  });
});

describe('workloads', () => {
  it("draws the paper's sets: seeded, clamped, close to Table 10's totals", () => {
    const total = (name: string) => workloadLengths(PAPER_WORKLOADS[name], 8192).reduce((a, b) => a + b, 0);
    expect(total('fixed_short')).toBe(4_194_304);
    expect(total('fixed_long')).toBe(67_108_864);
    // Table 10: 2,096,510 and 33,604,913 (torch's generator); ours draws other numbers from the same law.
    expect(Math.abs(total('variable_short') / 2_096_510 - 1)).toBeLessThan(0.01);
    expect(Math.abs(total('variable_long') / 33_604_913 - 1)).toBeLessThan(0.01);
    const lengths = workloadLengths(PAPER_WORKLOADS.variable_short, 8192);
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(16);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(512);
    expect(parseWorkload('variable_short:3').lengths).toEqual(lengths.slice(0, 3));
  });
});

describe('npm run bench', () => {
  it('writes the table, results.csv with every column, summary.md and the plots (reference and WebGPU on SwiftShader)', () => {
    const out = join(tempDir(), 'run');
    // A 256 MiB memory limit keeps the max-batch search short.
    const r = bench(['--suite', 'cpu', '--backends', 'reference:fp32,webgpu', '--kernels', 'yes', '--workload', '8x2', '--peers', 'none', '--memory-limit', '0.25', '--runs', '1', '--warmup', '1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['results.csv', 'summary.md', 'throughput.svg', 'memory.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(r.stdout).toMatch(/\| webgpu \| flash \| small \| fp32 \| 8x2 \|/);
    const rows = parseResultsCsv(readFileSync(join(out, 'results.csv'), 'utf8'), 'results.csv');
    const kinds = new Set(rows.map((x) => x.kind));
    expect([...kinds].sort()).toEqual(['kernel', 'max_batch', 'model']);
    // DESIGN §5: every row carries backend, workload, config, dtype, tokens, seconds, tokens/s, peak bytes,
    // adapter, runtime and versions, commit, date. Planned max-batch rows have no seconds (they do not run).
    for (const x of rows) {
      // Issue 15: and the environment: CPU, memory, OS.
      const must = ['date', 'commit', 'device', 'kind', 'name', 'backend', 'config', 'dtype', 'sequences', 'tokens', 'peak_bytes', 'adapter', 'runtime', 'versions', 'cpu', 'memory_bytes', 'os'] as const;
      for (const c of must) expect(x[c], `${x.kind} ${x.name} ${c}`).not.toBe('');
      if (x.kind !== 'max_batch') for (const c of ['median_s', 'min_s', 'max_s', 'tokens_per_s', 'runs'] as const) expect(x[c], `${x.kind} ${x.name} ${c}`).not.toBe('');
      if (x.kind === 'kernel') expect(Number(x.gflop_per_s)).toBeGreaterThan(0);
      // Cold start apart from the warm runs: every model row, on every backend.
      if (x.kind === 'model') for (const c of ['load_s', 'first_s'] as const) expect(Number(x[c]), `${x.backend} ${c}`).toBeGreaterThan(0);
      if (x.backend === 'webgpu' && x.kind !== 'max_batch') expect(x.features).toMatch(/^used: none \(core WGSL\); device has: /);
    }
    expect(Number(rows[0].memory_bytes)).toBe(totalmem());
    // SwiftShader compiles every pipeline on the first call: it is far slower than a warm one.
    const webgpu = rows.find((x) => x.backend === 'webgpu' && x.kind === 'model')!;
    expect(Number(webgpu.first_s)).toBeGreaterThan(Number(webgpu.median_s));
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toContain('| backend | variant | dtype | workload | tokens/s | spread | vs peer | peak memory |');
    expect(summary).toMatch(/^- CPU: .+ \(\d+ logical cores\); memory: [\d.]+ GiB; OS: /m);
    // the subgroup-matrix GEMM's kernel rows need a device with subgroup matrices: SwiftShader has none, and the run says so
    expect(summary).toContain('kernels: no sgmat or flash_sgmat rows: the adapter does not offer chromium-experimental-subgroup-matrix');
    // split-K's rows at one sequence (8 tokens of the 8x2 workload), with unsplit v4, v3 and v2 at that size
    const oneSequence = rows.filter((x) => x.kind === 'kernel' && x.name === 'gemm.mlp_wo' && String(x.sequences) === '1');
    expect(oneSequence.map((x) => [x.variant, String(x.tokens)])).toEqual(['v4', 'v3', 'v2', 'v4/sk2', 'v4/sk4', 'v2/sk2', 'v2/sk4', 'v3/sk2'].map((v) => [v, '8']));
    expect(oneSequence[3].note).toMatch(/^M=8 N=256 K=384 residual tile v4 16x16\/tm8\/tn4\/tk16\/sk2;/);
    expect(oneSequence[5].note).toMatch(/^M=8 N=256 K=384 residual tile 16x16\/tm4\/tk16\/sk2;/);
    // every GEMM of a layer has a v4 row, the default, beside its baselines
    expect(rows.filter((x) => x.kind === 'kernel' && x.variant === 'v4').map((x) => `${x.name} ${x.dtype} ${x.tokens}`)).toEqual(['gemm.wqkv fp32 16', 'gemm.wqkv fp16 16', 'gemm.wi_geglu fp32 16', 'gemm.wi_geglu fp16 16', 'gemm.mlp_wo fp32 16', 'gemm.mlp_wo fp32 8', 'gemm.mlp_wo fp16 16']);
    expect(Object.keys(rows[0])).toEqual([...RESULT_COLUMNS]);
    expect(rows.find((x) => x.backend === 'webgpu' && x.kind === 'model')!.adapter).toMatch(/swiftshader/i);
  });

  it('without Python still runs the ONNX Runtime peer, and prints each backend relative to it', () => {
    const out = join(tempDir(), 'run');
    // Default peers (torch and transformersjs), as on a fresh clone; the interpreter does not exist.
    const r = bench(['--suite', 'cpu', '--backends', 'reference:fp32', '--workload', '8x2', '--max-batch', 'no', '--runs', '1', '--warmup', '0', '--out', out], { MODERNBERT_PYTHON: '/nonexistent/python3' });
    expect(r.code, r.stderr).toBe(0);
    const rows = parseResultsCsv(readFileSync(join(out, 'results.csv'), 'utf8'), 'results.csv');
    expect(rows.map((x) => `${x.backend}/${x.variant}`)).toEqual(['reference/', 'transformersjs/onnxruntime-cpu']);
    expect(rows[1].note).toContain(ONNX_EXPORT_NOTE);
    for (const c of ['load_s', 'first_s'] as const) expect(Number(rows[1][c]), `the peer's ${c}`).toBeGreaterThan(0);
    expect(r.stdout).toContain('peer skipped: torch: no Python interpreter "/nonexistent/python3"');
    expect(r.stdout).toContain('**vs ONNX Runtime CPU (tokens/s over transformersjs onnxruntime-cpu on the same workload, config and dtype; over its fp32 where it has no row of that dtype)**');
    expect(r.stdout).toMatch(/\| reference \|  \| small \| fp32 \| fp32 \| \d\.\d+× \|/);
  });

  it('on a GPU suite runs the ONNX Runtime WebGPU peer on the adapter our engine found (SwiftShader here), fp32 and fp16', () => {
    const out = join(tempDir(), 'run');
    const r = bench(['--suite', 'gpu', '--config', 'small', '--backends', 'webgpu,webgpu:sgmat', '--peers', 'transformersjs', '--workload', '32x2', '--runs', '1', '--warmup', '0', '--kernels', 'no', '--max-batch', 'no', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rows = parseResultsCsv(readFileSync(join(out, 'results.csv'), 'utf8'), 'results.csv');
    expect(rows.map((x) => `${x.backend}/${x.variant}/${x.dtype}`)).toEqual(['webgpu/flash/fp32', 'webgpu/sgmat/fp16', 'transformersjs/onnxruntime-webgpu/fp32']);
    // every GEMM and attention on subgroup matrices, emulated here, and the row says so
    expect(rows[1].note).toMatch(/^f16 storage, every GEMM \(gemm sgmat\) and attention \(flash_sgmat\) on f16 x f16 -> f32 subgroup matrices, emulated in plain WGSL \(the adapter does not offer chromium-experimental-subgroup-matrix/);
    const peer = rows[2];
    expect(Number(peer.tokens_per_s)).toBeGreaterThan(0);
    for (const c of ['load_s', 'first_s'] as const) expect(Number(peer[c]), `the peer's ${c}`).toBeGreaterThan(0);
    expect(peer.adapter).toBe(rows[0].adapter);
    expect(peer.adapter).toMatch(/swiftshader/i);
    expect(peer.versions).toMatch(/^@huggingface\/transformers 4\.\S+; onnxruntime-node \S+$/);
    // SwiftShader has no shader-f16, which ONNX Runtime's f16 kernels need: the fp16 graph ran and was refused, said so
    expect(r.stdout).toContain('peer skipped: transformersjs: 1 of 2 rows, then it failed (exit 1): 32x2 webgpu fp16 failed: the WebGPU adapter has no shader-f16 (ONNX Runtime: ');
    expect(r.stdout).toContain('**vs ONNX Runtime WebGPU (tokens/s over transformersjs onnxruntime-webgpu on the same workload, config and dtype; over its fp32 where it has no row of that dtype)**');
    expect(r.stdout).toMatch(/\| webgpu \| flash \| small \| fp32 \| fp32 \| \d\.\d+× \|/);
  });

  it('runs every gpu.js mode, each row naming the mode that ran (auto selection in its variant and note)', () => {
    const out = join(tempDir(), 'run');
    const r = bench(['--suite', 'cpu', '--backends', 'gpujs:webasm,gpujs:cpu,gpujs:webgpu,gpujs', '--workload', '8x2', '--peers', 'none', '--max-batch', 'no', '--runs', '1', '--warmup', '0', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rows = parseResultsCsv(readFileSync(join(out, 'results.csv'), 'utf8'), 'results.csv');
    expect(rows.map((x) => `${x.backend}/${x.variant}`)).toEqual(['gpujs:webasm/', 'gpujs:cpu/', 'gpujs:webgpu/', 'gpujs:webgpu/auto']);
    for (const x of rows) {
      expect(Number(x.tokens_per_s)).toBeGreaterThan(0);
      expect(x.versions).toMatch(/^gpu\.js \d/);
    }
    expect(rows[3].note).toMatch(/auto selection ran webgpu;/);
  });
});
