// `modernbert parity` on the gpu.js backend: every golden case in every mode (webgpu on SwiftShader here),
// the mode that ran in the JSON line, and a mode that cannot run as an error, never a silent fallback.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GOLDEN, GOLDEN_CASES, copyOfCase, goldenOutputs } from '../helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'modernbert.js');

function parity(caseName: string, backend: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, 'parity', join(GOLDEN, caseName), '--backend', backend], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, result: r.status === 0 || r.status === 1 ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}

describe.each([['webasm'], ['cpu'], ['webgpu']])('modernbert parity --backend gpujs:%s', (mode) => {
  it.each(GOLDEN_CASES.map((c) => [c]))('passes %s within the fp32 tolerances, and says the mode that ran', (caseName) => {
    const { code, result, stderr } = parity(caseName, `gpujs:${mode}`);
    expect(code, stderr).toBe(0);
    expect(Object.keys(result)).toEqual(['case', 'backend', 'precision', 'max_abs_err', 'tolerance', 'pass', 'mode', 'fallback']);
    expect(result).toMatchObject({ case: caseName, backend: `gpujs:${mode}`, precision: 'fp32', pass: true, mode, fallback: null });
    expect(Object.keys(result.max_abs_err).sort()).toEqual(goldenOutputs(caseName));
  });
});

describe('gpu.js mode selection through the CLI', () => {
  it('gpujs picks webgpu when an adapter exists (SwiftShader here)', () => {
    const { code, result } = parity('tiny', 'gpujs');
    expect(code).toBe(0);
    expect(result).toMatchObject({ backend: 'gpujs', pass: true, mode: 'webgpu', fallback: null });
  });

  // A Vulkan ICD list that names no file leaves Dawn with no adapter, as on a machine without a GPU or SwiftShader.
  const noAdapter = { VK_ICD_FILENAMES: '/nonexistent/icd.json' };

  it('without an adapter, gpujs falls back to webasm and says why', () => {
    const { code, result } = parity('window', 'gpujs', noAdapter);
    expect(code).toBe(0);
    expect(result).toMatchObject({ backend: 'gpujs', pass: true, mode: 'webasm', fallback: 'webgpu: no WebGPU adapter' });
  });

  it('without an adapter, a forced gpujs:webgpu is a clear error (exit 2), not a fallback', () => {
    const { code, stderr } = parity('tiny', 'gpujs:webgpu', noAdapter);
    expect(code).toBe(2);
    expect(stderr).toMatch(/modernbert parity: gpujs:webgpu cannot run here: webgpu: no WebGPU adapter/);
  });

  it('the gpujs backends compute in fp32 only', () => {
    const r = spawnSync(process.execPath, [BIN, 'parity', join(GOLDEN, 'tiny'), '--backend', 'gpujs:cpu', '--precision', 'fp64'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--precision: the gpujs backend computes in fp32 only/);
  });

  it('modernbert eval parity takes NAME:MODE backends, and says which mode auto selection ran', () => {
    const cases = dirname(copyOfCase('tiny'));
    const r = spawnSync(process.execPath, [BIN, 'eval', 'parity', '--cases', cases, '--backends', 'gpujs:cpu,gpujs'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| tiny \| gpujs:cpu \| fp32 \| last_hidden_state \| .* \| yes \|/);
    expect(r.stdout).toMatch(/\| tiny \| gpujs \(ran webgpu\) \| fp32 \| mlm_logits \| .* \| yes \|/);
  });
});
