// `modernbert diff` (issue 13, item 2): ports with a known mistake, played by the fp32 reference with that
// mistake, fail `parity --outputs`, and diff names the first diverging layer and the mistake; correct outputs
// and backends show no divergence; bad options are exit 2.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DiffReport, MISTAKES, diffCase, reproduceMistake } from '../evals/diff.ts';
import { caseBatch } from '../evals/parity-check.ts';
import { readGoldenCase } from '../evals/parity.ts';
import type { ModernBertConfig } from '../reference/config.ts';
import { weightsFromTensors } from '../reference/checkpoint.ts';
import { writeSafetensors } from '../reference/files.ts';
import { type ForwardOptions, type ForwardOutput, forward } from '../reference/modernbert.ts';
import { type FloatArray, type Precision, fp32 } from '../reference/ops.ts';
import { halfToNumber, toFloat16Bits, toInt32 } from '../reference/safetensors.ts';
import { type PackedBatch, packPadded, repad, unpadRows } from '../reference/unpad.ts';
import { GOLDEN, tempDir } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'modernbert.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Port {
  /** the port's config (a misread field) */
  config?: Partial<ModernBertConfig>;
  /** builds its RoPE tables in this precision */
  ropePrecision?: Precision;
  /** attends to padding: runs every position of the padded batch as real */
  noPaddingMask?: boolean;
}

/**
 * A port of ModernBERT with a mistake, computing in fp32, writing its outputs padded [B, L, ...] with the
 * golden names (hidden_states, last_hidden_state, mlm_logits, cls_logits) as a safetensors file.
 */
function portOutputs(caseName: string, port: Port, edit?: (out: ForwardOutput) => void): string {
  const golden = readGoldenCase(join(GOLDEN, caseName));
  const { batch, B, L } = caseBatch(golden);
  const config = { ...golden.config, ...port.config };
  const model = { config, weights: weightsFromTensors(config, golden.checkpoint, fp32, 'test'), precision: fp32 };
  const options: ForwardOptions = { hiddenStates: true, mlmLogits: true, pooling: ['cls'], ropePrecision: port.ropePrecision };
  let out: ForwardOutput;
  if (port.noPaddingMask) {
    const full = forward(model, packPadded({ inputIds: toInt32(golden.io.get('input_ids')!), batchSize: B, seqLen: L }), options);
    const real = (x: FloatArray) => unpadRows(fp32, x, batch, x.length / (B * L), L);
    out = { batch, lastHiddenState: real(full.lastHiddenState), hiddenStates: full.hiddenStates!.map(real), mlmLogits: real(full.mlmLogits!), classifierLogits: full.classifierLogits };
  } else {
    out = forward(model, batch, options);
  }
  edit?.(out);
  const C = config.hiddenSize;
  const padded = (x: FloatArray, width: number) => repad(fp32, x, batch as PackedBatch, width, L) as Float32Array;
  const hidden = new Float32Array((config.numHiddenLayers + 1) * B * L * C);
  out.hiddenStates!.forEach((h, i) => hidden.set(padded(h, C), i * B * L * C));
  const f32 = (shape: number[], data: Float32Array) => ({ dtype: 'F32' as const, shape, data });
  const file = join(tempDir(), `${caseName}-port.safetensors`);
  writeSafetensors(file, {
    hidden_states: f32([config.numHiddenLayers + 1, B, L, C], hidden),
    last_hidden_state: f32([B, L, C], padded(out.lastHiddenState, C)),
    mlm_logits: f32([B, L, config.vocabSize], padded(out.mlmLogits!, config.vocabSize)),
    cls_logits: f32([B, config.numLabels], Float32Array.from(out.classifierLogits!.cls!)),
  });
  return file;
}

/** Each arithmetic step rounded to half precision, built from the f16 encoder (not the one diff uses). */
const halfTables: Precision = { name: 'f16', round: (x) => halfToNumber(toFloat16Bits([x])[0]), alloc: (n) => new Float32Array(n) };

function diff(caseName: string, ...args: string[]): { code: number | null; report: DiffReport } {
  const r = cli('diff', join(GOLDEN, caseName), ...args, '--json');
  expect(r.stderr).not.toMatch(/^modernbert diff:/m); // (webgpu notes SwiftShader on stderr)
  return { code: r.code, report: JSON.parse(r.stdout) };
}

describe('modernbert diff', () => {
  it('a window of ±local_attention: parity fails, diff finds layer 1 (the first local layer) and the window', () => {
    const file = portOutputs('window', { config: { localAttention: 16 } }); // the case's local_attention is 8: ±8 instead of ±4
    expect(cli('parity', join(GOLDEN, 'window'), '--outputs', file).code).toBe(1);
    const { code, report } = diff('window', '--outputs', file);
    expect(code).toBe(1);
    expect(report.stages.slice(0, 2).map((s) => [s.stage, s.pass])).toEqual([['embeddings', true], ['layer 0', true]]);
    expect(report.first_divergence).toMatchObject({ stage: 'layer 1', kind: 'local', layer: 1 });
    // the 9-token sequence's middle token sees all of it through the ±4 window: it matches
    expect(report.first_divergence!.sequences[1]).toMatchObject({ length: 9, padded: true, failing_tokens: 8 });
    expect(report.patterns.map((p) => p.pattern)).toContain('window');
    expect(report.likely_causes).toEqual(['window_full_width']);
    const noWindow = report.catalog.find((m) => m.mistake === 'no_window')!;
    expect(noWindow.max_abs_err).toBeGreaterThan(1e-2); // ±8 is not "no window" on a 70-token sequence: told apart

    const text = cli('diff', join(GOLDEN, 'window'), '--outputs', file);
    expect(text.stdout).toMatch(/layer 1 +local .*FAIL  <- first divergence/);
    expect(text.stdout).toMatch(/\nlikely cause: window_full_width\n$/);
  });

  it('a dropped padding mask: only the padded sequence diverges, from layer 0', () => {
    const file = portOutputs('window', { noPaddingMask: true });
    expect(cli('parity', join(GOLDEN, 'window'), '--outputs', file).code).toBe(1);
    const { code, report } = diff('window', '--outputs', file);
    expect(code).toBe(1);
    expect(report.first_divergence).toMatchObject({ stage: 'layer 0', kind: 'global' });
    expect(report.first_divergence!.sequences.map((s) => [s.padded, s.failing_tokens > 0])).toEqual([[false, false], [true, true]]);
    expect(report.patterns[0].pattern).toBe('padded_only');
    expect(report.likely_causes).toEqual(['padding_not_masked']);
  });

  it('RoPE tables built in half precision: layer 0 diverges at every position, the f16 tables match', () => {
    const file = portOutputs('rope', { ropePrecision: halfTables });
    expect(cli('parity', join(GOLDEN, 'rope'), '--outputs', file).code).toBe(1);
    const { report } = diff('rope', '--outputs', file);
    expect(report.first_divergence).toMatchObject({ stage: 'layer 0' });
    expect(report.first_divergence!.max_abs_err).toBeLessThan(0.1); // small, but 100x the tolerance
    expect(report.likely_causes).toEqual(['rope_f16_tables']);
  });

  it("hidden_states in transformers 5's convention: only the last layer diverges, and diff says why", () => {
    const file = portOutputs('tiny', {}, (out) => (out.hiddenStates![out.hiddenStates!.length - 1] = out.lastHiddenState));
    const { report } = diff('tiny', '--outputs', file);
    expect(report.stages.filter((s) => !s.pass).map((s) => s.stage)).toEqual(['layer 2']);
    expect(report.likely_causes).toEqual(['hidden_states_after_final_norm']);
  });

  it('correct outputs and the backends show no divergence, every layer compared', () => {
    const { code, report } = diff('window', '--outputs', portOutputs('window', {}));
    expect(code).toBe(0);
    expect(report).toMatchObject({ pass: true, first_divergence: null, catalog: [], likely_causes: [] });
    expect(report.stages.map((s) => s.stage)).toEqual(['embeddings', ...[0, 1, 2, 3, 4, 5].map((l) => `layer ${l}`), 'final_norm', 'mlm_logits', 'cls_logits']);
    for (const backend of ['reference', 'webgpu']) {
      const r = diff('bias', '--backend', backend);
      expect(r.code, backend).toBe(0);
      expect(r.report.source).toBe(backend);
      expect(r.report.stages.map((s) => s.stage)).toEqual(['embeddings', 'layer 0', 'layer 1', 'layer 2', 'final_norm', 'mlm_logits', 'cls_logits', 'mean_logits']);
    }
  });

  it("Hugging Face's own bf16 outputs: no divergence at bf16 tolerances; with the window doubled, diff still names it", () => {
    const hf = (name: string) => join(import.meta.dirname, 'fixtures', 'golden-outputs', name);
    const good = diff('window', '--outputs', hf('window-bf16.safetensors'), '--dtype', 'bf16');
    expect(good.code).toBe(0);
    expect(good.report.source).toBe('outputs (bf16)');
    expect(diff('window', '--outputs', hf('window-bf16.safetensors')).code).toBe(1); // not at fp32 tolerances
    const broken = diff('window', '--outputs', hf('window-bf16-window-doubled.safetensors'), '--dtype', 'bf16');
    expect(broken.code).toBe(1);
    expect(broken.report.likely_causes).toEqual(['window_full_width']);
  });

  // What this shows: diff's patterns tell the catalog's mistakes apart, each as reproduceMistake makes it (the same
  // code diff matches against). It does not show that a real port with the mistake looks the same: Hugging Face's
  // own window-doubled outputs (the test above) are the one check of that.
  it('names each catalogued mistake, as the catalog reproduces it, and no other one, on the window case', async () => {
    // Each mistake, made by an fp32 port (the reference in fp32 with the mistake), is the one and only match.
    const golden = readGoldenCase(join(GOLDEN, 'window'));
    const model = { config: golden.config, weights: weightsFromTensors(golden.config, golden.checkpoint, fp32, 'test') };
    const want = { hiddenStates: true, mlmLogits: true, pooling: ['cls' as const], tokenLogits: false };
    const named: Record<string, string[]> = {};
    for (const mistake of MISTAKES) {
      const port = await reproduceMistake(mistake, model, fp32, golden, want);
      expect(port, mistake.id).not.toBeNull(); // the window case has padding, a cut window, two thetas, gelu and a decoder bias
      named[mistake.id] = (await diffCase(golden, mistake.id, async () => port!, want)).likely_causes;
    }
    expect(named).toEqual(Object.fromEntries(MISTAKES.map((m) => [m.id, [m.id]])));
  });

  it('bad options and outputs are exit 2 naming them', () => {
    const c = join(GOLDEN, 'tiny');
    expect(cli('diff', c)).toMatchObject({ code: 2, stderr: expect.stringMatching(/give either --outputs FILE .* or --backend B/) });
    expect(cli('diff', c, '--backend', 'reference', '--outputs', 'x.safetensors')).toMatchObject({ code: 2 });
    expect(cli('diff', c, '--backend', 'cuda')).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown backend "cuda"/) });
    expect(cli('diff', c, '--backend', 'webgpu', '--dtype', 'f16')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--dtype: the dtype --outputs were computed in, f16 or bf16 .* with --backend/) });
    expect(cli('diff', c, '--backend', 'reference', '--map', 'a=b')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--map renames the tensors of --outputs files/) });
    const wrong = join(tempDir(), 'wrong.safetensors');
    writeSafetensors(wrong, { hidden_states: { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) } });
    expect(cli('diff', c, '--outputs', wrong)).toMatchObject({ code: 2, stderr: expect.stringMatching(/wrong\.safetensors: output "hidden_states" has shape \[2, 3\]/) });
  });
});
