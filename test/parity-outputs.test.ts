// `modernbert parity <case> --outputs FILE` (issue 13, item 1): another implementation's outputs, here the
// reference's written as that implementation would, in safetensors, .npy and JSON, padded and packed, pass;
// the same model with a broken sliding window fails; bad files are exit 2 naming the tensor.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type GoldenCase, PARITY_BACKENDS } from '../evals/parity-check.ts';
import { readGoldenCase } from '../evals/parity.ts';
import { writeSafetensors } from '../reference/files.ts';
import type { ForwardOutput } from '../reference/modernbert.ts';
import { fp32 } from '../reference/ops.ts';
import { toInt32 } from '../reference/safetensors.ts';
import { type PackedBatch, packPadded, repad } from '../reference/unpad.ts';
import { GOLDEN, tempDir } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'modernbert.js');
const CASE = join(GOLDEN, 'window');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A C-order little-endian float32 .npy file, as numpy.save writes it. */
function npy(shape: number[], data: ArrayLike<number>): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + 4 * data.length);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  new Float32Array(out.buffer, 10 + header.length).set(Array.from(data));
  return out;
}

describe('parity --outputs', () => {
  let golden: GoldenCase;
  let batch: PackedBatch;
  let B: number;
  let L: number;
  let good: ForwardOutput;
  let brokenWindow: ForwardOutput;
  const want = { hiddenStates: false, mlmLogits: true, pooling: ['cls' as const], tokenLogits: false };

  beforeAll(async () => {
    golden = readGoldenCase(CASE);
    const ids = golden.io.get('input_ids')!;
    [B, L] = ids.shape;
    const mask = golden.io.get('attention_mask');
    batch = packPadded({ inputIds: toInt32(ids, 'input_ids'), attentionMask: mask && toInt32(mask, 'attention_mask'), batchSize: B, seqLen: L });
    good = await PARITY_BACKENDS.reference(golden, 'fp32', batch, want, 'f32');
    // A port that got the window wrong: 128 each side instead of the config's.
    brokenWindow = await PARITY_BACKENDS.reference({ ...golden, config: { ...golden.config, localAttention: 256 } }, 'fp32', batch, want, 'f32');
  });

  const padded = (x: ArrayLike<number>, width: number) => repad(fp32, Float32Array.from(x), batch, width, L);
  const tensor = (shape: number[], data: ArrayLike<number>) => ({ dtype: 'F32' as const, shape, data: Float32Array.from(data) });
  const C = () => golden.config.hiddenSize;

  it('passes the reference outputs written padded in safetensors, packed in .npy, and renamed in JSON', () => {
    const dir = tempDir();
    const st = join(dir, 'theirs.safetensors');
    writeSafetensors(st, { last_hidden_state: tensor([B, L, C()], padded(good.lastHiddenState, C())), mlm_logits: tensor([B, L, golden.config.vocabSize], padded(good.mlmLogits!, golden.config.vocabSize)), cls_logits: tensor([B, golden.config.numLabels], good.classifierLogits!.cls!) });
    const r = cli('parity', CASE, '--outputs', st);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ case: 'window', backend: 'outputs', precision: 'fp32', pass: true });
    expect(Object.keys(result.max_abs_err).sort()).toEqual(['cls_logits', 'last_hidden_state', 'mlm_logits']);

    const packed = join(dir, 'hidden.npy');
    writeFileSync(packed, npy([batch.totalTokens, C()], good.lastHiddenState));
    expect(cli('parity', CASE, '--outputs', `last_hidden_state=${packed}`).code).toBe(0);

    const json = join(dir, 'theirs.json');
    const rows = Array.from({ length: B }, (_, b) => Array.from({ length: L }, (_, l) => Array.from(padded(good.lastHiddenState, C()).subarray((b * L + l) * C(), (b * L + l + 1) * C()))));
    writeFileSync(json, JSON.stringify({ hidden: rows }));
    expect(cli('parity', CASE, '--outputs', json, '--map', 'hidden=last_hidden_state').code).toBe(0);
  });

  it('fails a port whose sliding window is wrong', () => {
    const file = join(tempDir(), 'broken.safetensors');
    writeSafetensors(file, { last_hidden_state: tensor([batch.totalTokens, C()], brokenWindow.lastHiddenState) });
    const r = cli('parity', CASE, '--outputs', file);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.pass).toBe(false);
    expect(result.max_abs_err.last_hidden_state).toBeGreaterThan(result.tolerance.last_hidden_state);
  });

  it('bad files and options are exit 2 naming the file and tensor', () => {
    const dir = tempDir();
    const wrong = join(dir, 'wrong.safetensors');
    writeSafetensors(wrong, { last_hidden_state: tensor([3, C()], new Float32Array(3 * C())) });
    expect(cli('parity', CASE, '--outputs', wrong)).toMatchObject({ code: 2, stderr: `modernbert parity: ${wrong}: output "last_hidden_state" has shape [3, ${C()}]; expected [${B}, ${L}, ${C()}] (padded) or [${batch.totalTokens}, ${C()}] (packed)\n` });
    const unknown = join(dir, 'unknown.safetensors');
    writeSafetensors(unknown, { hidden: tensor([1], [0]) });
    expect(cli('parity', CASE, '--outputs', unknown)).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown\.safetensors: tensor "hidden" is not an output parity compares .*; rename it with --map hidden=<name>\n$/) });
    const int = join(dir, 'x.npy');
    writeFileSync(int, npy([1], [0]).map((b, i) => (i === 22 ? 0x69 : b))); // '<f4' -> '<i4'
    expect(cli('parity', CASE, '--outputs', `last_hidden_state=${int}`)).toMatchObject({ code: 2, stderr: expect.stringMatching(/x\.npy: dtype "<i4" is not supported/) });
    expect(cli('parity', CASE, '--outputs', wrong, '--backend', 'webgpu')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--backend and --dtype do not apply/) });
    expect(cli('parity', CASE, '--outputs', join(dir, 'missing.json'))).toMatchObject({ code: 2, stderr: expect.stringMatching(/missing\.json: cannot read \(ENOENT\)/) });
  });
});
