// The GPU-machine script, tested here as DESIGN §6 asks: bundles and payload prepared, then run.sh on
// SwiftShader (allowed by MODERNBERT_ALLOW_SWIFTSHADER) with a tiny workload: its environment checks, the
// engine's parity on the adapter, and a benchmark folder with results.csv.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseResultsCsv } from '../benchmarks/results.ts';
import { GOLDEN_CASES, goldenOutputs, tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');

describe('benchmarks/gpu', () => {
  it('prepares a payload under 64 MiB and runs the parity check and a benchmark through the bundles', () => {
    const prepare = spawnSync(process.execPath, ['--import', './bin/register.js', 'benchmarks/gpu/prepare.ts', '--no-node'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(prepare.status, prepare.stderr).toBe(0);
    expect(prepare.stdout).toMatch(/prepared benchmarks\/bench\.bundle\.mjs, cli\/modernbert\.bundle\.mjs, gpu-payload: \d+\.\d MiB/);

    const out = tempDir();
    const run = spawnSync('bash', ['benchmarks/gpu/run.sh', '--out', out, '--backends', 'webgpu', '--workload', '8x2', '--max-batch', 'no', '--runs', '1', '--warmup', '0'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
      // Tuning and profiling sized for SwiftShader (the defaults are for an H100-class GPU).
      env: { ...process.env, MODERNBERT_ALLOW_SWIFTSHADER: '1', MODERNBERT_TUNE_ARGS: '--config small --tokens 16 --dtype f32 --space reduced --runs 1 --warmup 0', MODERNBERT_PROFILE_ARGS: '--config small --lengths 16x2 --runs 1' },
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
    // the tuner's table and cache, and the profile of each dtype, each naming the kernels it ran
    expect(readFileSync(join(out, 'tune.md'), 'utf8')).toMatch(/\| gemm \| M=16 N=768 K=256 none f32\.f32\.f32 \|/);
    expect(Object.values(JSON.parse(readFileSync(join(out, 'tuning.json'), 'utf8')).adapters)).toHaveLength(1);
    expect(readFileSync(join(out, 'tune-log.txt'), 'utf8')).toMatch(/^ {4}all \(ms\): 16x16\/tm4\/tk16 [\d.]+, /m);
    expect(readFileSync(join(out, 'profile-f32.md'), 'utf8')).toMatch(/^gemm_v[23]_xf32_wf32_yf32/m); // the tuned kernel
    expect(readFileSync(join(out, 'profile-f16.md'), 'utf8')).toMatch(/^gemm_v[23]_xf16_wf16_yf16/m);
    const rows = parseResultsCsv(readFileSync(join(out, 'bench', 'results.csv'), 'utf8'), 'results.csv');
    expect(rows.map((r) => `${r.kind} ${r.backend} ${r.variant} ${r.name}`)).toEqual(['model webgpu flash 8x2']);
    expect(rows[0].versions).toMatch(/^webgpu 0\.3\.10$/); // baked into the bundle
    expect(existsSync(join(out, 'bench', 'summary.md'))).toBe(true);
  }, 360_000); // the two children's limits
});
