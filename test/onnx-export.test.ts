// The ONNX graph written from TypeScript (benchmarks/peers/onnx-export.ts, issue 15 item 1) runs in ONNX
// Runtime (onnxruntime-node, in its own process) and passes every golden case at the fp32 tolerance; a graph
// with a broken window would not.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeOnnxExport } from '../benchmarks/peers/onnx-export.ts';
import { readSafetensors, saveCheckpoint, readCheckpointTensors, loadConfig } from '../reference/files.ts';
import { GOLDEN, GOLDEN_CASES, tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');

/** Exports the case's checkpoint, runs the case through ONNX Runtime, and checks the outputs with `parity --outputs`. */
function parityThroughOnnx(caseDir: string, checkpointDir = caseDir) {
  const dir = tempDir();
  writeOnnxExport(checkpointDir, dir);
  expect(existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'onnx', 'model.onnx'))).toBe(true);
  const out = join(dir, 'outputs.safetensors');
  const run = spawnSync(process.execPath, ['--import', join(ROOT, 'bin', 'register.js'), join(ROOT, 'benchmarks', 'peers', 'onnx-case.ts'), '--model', dir, '--case', caseDir, '--write-outputs', out], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  expect(readSafetensors(out).tensors.get('last_hidden_state')!.shape.length).toBe(3);
  const parity = spawnSync(process.execPath, [join(ROOT, 'bin', 'modernbert.js'), 'parity', caseDir, '--outputs', out], { encoding: 'utf8' });
  return { code: parity.status, result: JSON.parse(parity.stdout) };
}

describe('ONNX export', () => {
  it.each(GOLDEN_CASES)('%s: ONNX Runtime on the exported graph matches the golden last_hidden_state', (name) => {
    const { code, result } = parityThroughOnnx(join(GOLDEN, name));
    expect(result.max_abs_err.last_hidden_state).toBeLessThan(result.tolerance.last_hidden_state);
    expect(code).toBe(0);
  });

  it('a checkpoint exported with the window doubled fails the case', () => {
    // The same weights, config local_attention 16 instead of 8: the graph's window mask follows the config.
    const checkpoint = tempDir();
    const config = loadConfig(join(GOLDEN, 'window', 'config.json'));
    saveCheckpoint(checkpoint, { ...config, localAttention: 2 * config.localAttention }, readCheckpointTensors(join(GOLDEN, 'window')));
    const { code, result } = parityThroughOnnx(join(GOLDEN, 'window'), checkpoint);
    expect(result.max_abs_err.last_hidden_state).toBeGreaterThan(0.1);
    expect(code).toBe(1);
  });
});
