// The ONNX graph written from TypeScript (benchmarks/peers/onnx-graph.ts, issue 15 item 1; fp16 from issue 27) runs in
// ONNX Runtime (onnxruntime-node, in its own process): every golden case passes on the CPU and WebGPU providers at
// the fp32 tolerances, and through the fp16 graph at the f16 tolerances; a graph with a broken window would not.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeOnnxExport } from '../benchmarks/peers/onnx-export.ts';
import { ONNX_FILES, type OnnxDtype } from '../benchmarks/peers/onnx-graph.ts';
import { readSafetensors, saveCheckpoint, readCheckpointTensors, loadConfig } from '../reference/files.ts';
import { GOLDEN, GOLDEN_CASES, tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');

interface OnnxRun {
  checkpointDir?: string;
  provider?: 'cpu' | 'webgpu';
  dtype?: OnnxDtype;
}

/** Exports the case's checkpoint, runs the case through ONNX Runtime, and checks the outputs with `parity --outputs` (f16 tolerances for fp16). */
function parityThroughOnnx(caseDir: string, { checkpointDir = caseDir, provider = 'cpu', dtype = 'fp32' }: OnnxRun = {}) {
  const dir = tempDir();
  writeOnnxExport(checkpointDir, dir, [dtype]);
  expect(existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'onnx', ONNX_FILES[dtype]))).toBe(true);
  const out = join(dir, 'outputs.safetensors');
  const run = spawnSync(process.execPath, ['--import', join(ROOT, 'bin', 'register.js'), join(ROOT, 'benchmarks', 'peers', 'onnx-case.ts'), '--model', dir, '--case', caseDir, '--write-outputs', out, '--provider', provider, '--dtype', dtype], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  expect(readSafetensors(out).tensors.get('last_hidden_state')!.shape.length).toBe(3);
  const parity = spawnSync(process.execPath, [join(ROOT, 'bin', 'modernbert.js'), 'parity', caseDir, '--outputs', out, ...(dtype === 'fp16' ? ['--dtype', 'f16'] : [])], { encoding: 'utf8' });
  return { code: parity.status, result: JSON.parse(parity.stdout), dir };
}

describe('ONNX export', () => {
  it.each(GOLDEN_CASES)('%s: ONNX Runtime on the exported graph matches the golden last_hidden_state', (name) => {
    const { code, result } = parityThroughOnnx(join(GOLDEN, name));
    expect(result.max_abs_err.last_hidden_state).toBeLessThan(result.tolerance.last_hidden_state);
    expect(code).toBe(0);
  });

  // The peer of the GPU runs (transformers.js device 'webgpu'): a peer row is never fast because it is wrong.
  it.each(GOLDEN_CASES)('%s: ONNX Runtime WebGPU (SwiftShader here) on the exported graph passes at the fp32 tolerances', (name) => {
    const { code, result } = parityThroughOnnx(join(GOLDEN, name), { provider: 'webgpu' });
    expect(result.max_abs_err.last_hidden_state).toBeLessThan(result.tolerance.last_hidden_state);
    expect(code).toBe(0);
  });

  // SwiftShader has no shader-f16, so ONNX Runtime runs the fp16 graph on its CPU provider here; on a GPU, run.sh
  // runs it on WebGPU.
  it.each(GOLDEN_CASES)('%s: the fp16 graph passes at the f16 tolerances, and computes in f16', (name) => {
    const { code, result, dir } = parityThroughOnnx(join(GOLDEN, name), { dtype: 'fp16' });
    expect(result.dtype).toBe('f16');
    expect(result.max_abs_err.last_hidden_state).toBeLessThan(result.tolerance.last_hidden_state);
    expect(code).toBe(0);
    // f16 arithmetic: further from HF's fp32 than the fp32 tolerance, and half the bytes of the fp32 graph
    expect(result.max_abs_err.last_hidden_state).toBeGreaterThan(1e-4);
    writeOnnxExport(join(GOLDEN, name), dir, ['fp32']);
    const bytes = (file: string) => statSync(join(dir, 'onnx', file)).size;
    expect(bytes(ONNX_FILES.fp16) / bytes(ONNX_FILES.fp32)).toBeLessThan(0.6);
  });

  it('a checkpoint exported with the window doubled fails the case', () => {
    // The same weights, config local_attention 16 instead of 8: the graph's window mask follows the config.
    const checkpoint = tempDir();
    const config = loadConfig(join(GOLDEN, 'window', 'config.json'));
    saveCheckpoint(checkpoint, { ...config, localAttention: 2 * config.localAttention }, readCheckpointTensors(join(GOLDEN, 'window')));
    const { code, result } = parityThroughOnnx(join(GOLDEN, 'window'), { checkpointDir: checkpoint });
    expect(result.max_abs_err.last_hidden_state).toBeGreaterThan(0.1);
    expect(code).toBe(1);
  });
});
