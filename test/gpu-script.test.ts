// The GPU-machine script, tested here as DESIGN §6 asks: bundles and payload prepared, then run.sh on
// SwiftShader (allowed by MODERNBERT_ALLOW_SWIFTSHADER) with a tiny workload: its environment checks, the
// rooflines, the tuned table (which a fresh engine then reads), the engine's parity on the adapter, the
// profiles, and a benchmark folder with results.csv where the ONNX Runtime WebGPU peer (its bundle) ran beside
// our engine.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseResultsCsv } from '../benchmarks/results.ts';
import { GOLDEN_CASES, goldenOutputs, tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');

describe('benchmarks/gpu', () => {
  it('prepares a payload under 64 MiB and runs the parity check and a benchmark through the bundles', () => {
    const prepare = spawnSync(process.execPath, ['--import', './bin/register.js', 'benchmarks/gpu/prepare.ts', '--no-node'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(prepare.status, prepare.stderr).toBe(0);
    expect(prepare.stdout).toMatch(/prepared benchmarks\/bench\.bundle\.mjs, benchmarks\/peers\/transformersjs\.bundle\.mjs, cli\/modernbert\.bundle\.mjs, gpu-payload: \d+\.\d MiB/);

    const out = tempDir();
    const tables = tempDir(); // the committed tables' folder stays as it is
    // --suite gpu: on SwiftShader run.sh would pick the cpu suite, whose peer is ONNX Runtime's CPU provider.
    const run = spawnSync('bash', ['benchmarks/gpu/run.sh', '--out', out, '--suite', 'gpu', '--config', 'small', '--kernels', 'no', '--backends', 'webgpu', '--workload', '8x2', '--max-batch', 'no', '--runs', '1', '--warmup', '0'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
      // Tuning and profiling sized for SwiftShader (the defaults are for an H100-class GPU).
      env: { ...process.env, MODERNBERT_ALLOW_SWIFTSHADER: '1', MODERNBERT_TUNED_TABLES: tables, MODERNBERT_TUNE_ARGS: '--config small --tokens 16 --dtype f32 --space reduced --runs 1 --warmup 0 --shape-seconds 60', MODERNBERT_PROFILE_ARGS: '--config small --lengths 16x2 --runs 1' },
    });
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    const environment = readFileSync(join(out, 'environment.txt'), 'utf8');
    expect(environment).toMatch(/^gpu run: node v\d+/m);
    expect(environment).toMatch(/^gpu run: Vulkan loader: /m);
    expect(environment).toMatch(/^gpu run: adapter: \{"name":".*swiftshader/im);
    const parity = readFileSync(join(out, 'parity.md'), 'utf8');
    // every output of every case within tolerance
    expect(parity.match(/\| webgpu \| fp32 \|.*\| yes \|/g)?.length).toBe(GOLDEN_CASES.reduce((n, c) => n + goldenOutputs(c).length, 0));
    const f16 = readFileSync(join(out, 'parity-f16.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(f16.map((r) => [r.case, r.dtype, r.pass])).toEqual(['bias', 'meanpool', 'relu', 'rope', 'swiglu', 'tiny', 'window'].map((c) => [c, 'f16', true]));
    expect(JSON.parse(readFileSync(join(out, 'info.json'), 'utf8')).gpuAdapter).toMatch(/swiftshader/i);
    // the adapter's rooflines, measured first
    expect(Object.keys(JSON.parse(readFileSync(join(out, 'roofline.json'), 'utf8')))).toEqual(['adapter', 'fma_f32_gflops', 'fma_f16_gflops', 'workgroup_gbps', 'global_gbps', 'sgmat_gflops', 'dispatch_us']);
    // the tuner's table, in the tables' folder and in the results, and the profile of each dtype against the rooflines
    expect(readFileSync(join(out, 'tune.md'), 'utf8')).toMatch(/\| gemm \| M=16 N=768 K=256 none f32\.f32\.f32 \| v4 16x16\/tm8\/tn4\/tk16 \|/);
    expect(readFileSync(join(out, 'tune-log.txt'), 'utf8')).toMatch(/^ {4}all \(ms\): v4 16x16\/tm8\/tn4\/tk16 [\d.]+, 16x16\/tm4\/tk16 [\d.]+, /m);
    const [table] = readdirSync(tables);
    expect(table).toMatch(/^google-swiftshader-.*\.json$/);
    expect(readdirSync(join(out, 'tuned'))).toEqual([table]);
    expect(Object.values(JSON.parse(readFileSync(join(tables, table), 'utf8')).adapters)).toHaveLength(1);
    const webgpu = (info: { backends: { name: string; detail: string }[] }) => info.backends.find((b) => b.name === 'webgpu')!.detail;
    expect(webgpu(JSON.parse(readFileSync(join(out, 'info.json'), 'utf8')))).toContain(`tuned kernel choices from ${join(tables, table)}`);
    for (const dtype of ['f32', 'f16']) {
      const profile = readFileSync(join(out, `profile-${dtype}.md`), 'utf8');
      expect(profile).toMatch(new RegExp(`^gemm_v[234]_x${dtype}_w${dtype}_y${dtype}`, 'm'));
      expect(profile).toMatch(/roofline_pct/);
    }
    const rows = parseResultsCsv(readFileSync(join(out, 'bench', 'results.csv'), 'utf8'), 'results.csv');
    expect(rows.map((r) => `${r.kind} ${r.backend} ${r.variant} ${r.dtype} ${r.name}`)).toEqual(['model webgpu flash fp32 8x2', 'model transformersjs onnxruntime-webgpu fp32 8x2']);
    expect(rows[0].versions).toMatch(/^webgpu 0\.3\.10$/); // baked into the bundle
    expect(Number(rows[1].tokens_per_s)).toBeGreaterThan(0);
    expect(rows[1].adapter).toBe(rows[0].adapter);
    const summary = readFileSync(join(out, 'bench', 'summary.md'), 'utf8');
    expect(summary).toMatch(/vs ONNX Runtime WebGPU \(tokens\/s over transformersjs onnxruntime-webgpu/);
    // its fp16 graph needs shader-f16, which SwiftShader lacks: a note, not a row
    expect(summary).toMatch(/peer skipped: transformersjs: 1 of 2 rows, then it failed \(exit 1\): 8x2 webgpu fp16 failed: the WebGPU adapter has no shader-f16/);

    // A fresh engine on this adapter, with no local tuning cache, runs the table.
    const info = spawnSync(process.execPath, [join(ROOT, 'bin', 'modernbert.js'), 'info', '--json'], { encoding: 'utf8', env: { ...process.env, MODERNBERT_TUNED_TABLES: tables, MODERNBERT_TUNING: join(tables, 'absent.json') } });
    expect(info.status, info.stderr).toBe(0);
    expect(webgpu(JSON.parse(info.stdout))).toMatch(/webgpu|WGSL/);
    expect(webgpu(JSON.parse(info.stdout))).toContain(`tuned kernel choices from ${join(tables, table)}`);
  }, 420_000); // the three children's limits
});
