// `modernbert golden make` and `modernbert crosscheck` (issue 13, items 3 and 4) on the example checkpoint
// (the real vocabulary and tokenizer, 3 small random layers): cases written from texts, random lengths and the
// stress shapes pass `parity` on every backend; a tampered case fails; bad inputs are exit 2 naming the culprit.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/modernbert.ts';
import { readGoldenCase, runParity } from '../evals/parity.ts';
import { stressShapes } from '../evals/golden.ts';
import { readSafetensors, writeSafetensors } from '../reference/files.ts';
import { presetConfig } from '../reference/config.ts';
import { toFloat32 } from '../reference/safetensors.ts';
import { writeExampleCheckpoint } from '../tasks/example.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'modernbert.js');

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// One checkpoint and one texts case for the whole file (writing them is the slow part of each test otherwise).
let root: string;
let model: string;
let texts: string;
let textCase: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'modernbert-golden-'));
  model = join(root, 'model');
  writeExampleCheckpoint(model);
  texts = join(root, 'texts.txt');
  // a blank line, skipped; B*L*V is small, so the case holds MLM logits
  writeFileSync(texts, 'The capital of France is Paris.\n\nHello world\n');
  textCase = join(root, 'text-case');
  const r = cli(['golden', 'make', '--model', model, '--texts', texts, '--out', textCase]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fresh folder under root, for one test's outputs. */
function scratch(name: string): string {
  const d = join(root, name);
  mkdirSync(d);
  return d;
}

describe('golden make --texts', () => {
  it('writes a case in the golden format: inputs, fp64 oracle outputs, zeros at padding, case.json', () => {
    expect(readdirSync(textCase).sort()).toEqual(['case.json', 'config.json', 'io.safetensors', 'model.safetensors']);
    const json = JSON.parse(readFileSync(join(textCase, 'case.json'), 'utf8'));
    // two non-blank lines, each [CLS] ... [SEP]
    expect(json).toMatchObject({ name: 'text-case', seed: null, batch_size: 2, seq_lengths: [9, 4], layer_kinds: ['global', 'local', 'local'], window_half_width: 8, head_dim: 16 });
    const [B, L] = [json.batch_size, json.padded_length];
    expect(L).toBe(Math.max(...json.seq_lengths));
    expect(json.made_by).toMatchObject({ tool: 'modernbert golden make', weights: 'copy', texts });
    expect(json.made_by.mlm_logits).toContain('written');

    const io = readSafetensors(join(textCase, 'io.safetensors')).tensors;
    expect(Object.keys(json.io_tensors)).toEqual([...io.keys()]);
    // B*L*V is small here, and the example checkpoint has both heads
    expect([...io.keys()].sort()).toEqual(['attention_mask', 'cls_logits', 'cls_logits_f64', 'hidden_states', 'input_ids', 'last_hidden_state', 'last_hidden_state_f64', 'mean_logits', 'mean_logits_f64', 'mlm_logits', 'mlm_logits_f64']);
    expect(io.get('input_ids')).toMatchObject({ dtype: 'I32', shape: [B, L] });
    expect(io.get('hidden_states')!.shape).toEqual([4, B, L, 64]);
    const ids = io.get('input_ids')!.data as Int32Array;
    const mask = io.get('attention_mask')!.data as Int32Array;
    const last = io.get('last_hidden_state')!.data as Float32Array;
    const last64 = io.get('last_hidden_state_f64')!.data as Float64Array;
    json.seq_lengths.forEach((n: number, b: number) => {
      expect(ids[b * L]).toBe(50281); // [CLS]
      expect(ids[b * L + n - 1]).toBe(50282); // [SEP]
      for (let i = 0; i < L; i++) {
        expect(mask[b * L + i]).toBe(i < n ? 1 : 0);
        if (i >= n) expect(ids[b * L + i]).toBe(50283); // [PAD]
      }
    });
    for (let i = 0; i < last.length; i++) {
      expect(last[i]).toBe(Math.fround(last64[i])); // the F32 fields are the fp64 values rounded
      if (mask[Math.floor(i / 64)] === 0) expect(last64[i]).toBe(0);
    }
  });

  it.each(['reference', 'webgpu', 'gpujs'])('the case passes `modernbert parity --backend %s`', (backend) => {
    const r = cli(['parity', textCase, '--backend', backend]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ case: 'text-case', backend, pass: true });
  });

  // A format check, not a parity check: golden make wrote these tensors with this same fp64 reference, so anything
  // but zero error means they were written or read back wrong (layout, dtype, padding).
  it('format check: the *_f64 tensors read back exactly as the fp64 reference computes them (zero error)', () => {
    const r = cli(['parity', textCase, '--precision', 'fp64']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).max_abs_err).toEqual({ last_hidden_state_f64: 0, mlm_logits_f64: 0, cls_logits_f64: 0, mean_logits_f64: 0 });
  });

  it('a case whose expected last_hidden_state is off by 1e-3 on a real token fails parity (exit 1)', () => {
    const broken = join(scratch('broken'), 'case');
    const made = cli(['golden', 'make', '--model', model, '--texts', texts, '--out', broken, '--weights', 'link']);
    expect(made.code, made.stderr).toBe(0);
    const file = join(broken, 'io.safetensors');
    const io = readSafetensors(file).tensors;
    const t = io.get('last_hidden_state')!;
    const data = Float32Array.from(toFloat32(t));
    data[3] += 1e-3; // sequence 0, token 0 ([CLS]): a real token
    io.set('last_hidden_state', { ...t, data });
    writeSafetensors(file, io);
    const r = cli(['parity', broken, '--backend', 'reference']);
    expect(r.code, r.stderr).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.pass).toBe(false);
    expect(result.max_abs_err.last_hidden_state).toBeGreaterThan(9e-4);
  });
});

describe('golden make --lengths --weights link', () => {
  it('writes weights.json instead of the weights; parity follows it', async () => {
    const dir = join(scratch('linked'), 'case');
    const r = cli(['golden', 'make', '--model', model, '--lengths', '40,1,17x2', '--seed', '7', '--out', dir, '--weights', 'link']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['case.json', 'config.json', 'io.safetensors', 'weights.json']);
    expect(JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8'))).toEqual({ model });
    const json = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
    expect(json).toMatchObject({ seed: 7, batch_size: 4, padded_length: 40, seq_lengths: [40, 1, 17, 17] });
    expect(json.made_by).toMatchObject({ weights: 'link', lengths: '40,1,17x2' });
    // random ids avoid the special ones, inside [CLS] ... [SEP]
    const ids = readGoldenCase(dir).io.get('input_ids')!.data as Int32Array;
    const special = new Set([1, 50279, 50280, 50281, 50282, 50283, 50284]); // the tokenizer's special tokens
    expect([...ids.subarray(1, 39)].filter((id) => special.has(id))).toEqual([]);
    expect(readGoldenCase(dir).checkpointSource).toBe(join(model, 'model.safetensors'));
    expect((await runParity(dir, 'reference', 'fp32')).pass).toBe(true);
    // the same seed gives the same case
    const again = join(root, 'linked', 'again');
    expect(cli(['golden', 'make', '--model', model, '--lengths', '40,1,17x2', '--seed', '7', '--out', again, '--weights', 'link']).code).toBe(0);
    expect(readFileSync(join(again, 'io.safetensors'))).toEqual(readFileSync(join(dir, 'io.safetensors')));
  });

  it('a weights.json pointing nowhere is bad input (exit 2) naming the file', () => {
    const dir = join(scratch('dangling'), 'case');
    expect(cli(['golden', 'make', '--model', model, '--lengths', '9', '--out', dir, '--weights', 'link']).code).toBe(0);
    writeFileSync(join(dir, 'weights.json'), JSON.stringify({ model: join(root, 'gone') }));
    const r = cli(['parity', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(dir, 'weights.json'));
  });
});

describe('golden make --stress', () => {
  it('lists the shapes that caught bugs, capped at max_position_embeddings', () => {
    const { shapes, skipped } = stressShapes(presetConfig('base'));
    expect(shapes.map((s) => s.name)).toEqual(['single-1', 'single-63', 'single-64', 'single-65', 'single-128', 'single-129', 'single-513', 'single-4097', 'single-8192', 'mixed-96', 'one-token', 'beyond-window']);
    expect(skipped).toEqual([]);
    expect(Math.max(...shapes.find((s) => s.name === 'mixed-96')!.lengths) % 32).toBe(0);
    expect(shapes.find((s) => s.name === 'one-token')!.lengths).toContain(1);
    // base: local_attention 128, a window of 129 tokens; the long sequence has more than that on both sides of a middle token
    expect(shapes.find((s) => s.name === 'beyond-window')!.lengths).toEqual([389, 5]);
  });

  it('writes one case per shape under --max-tokens (encoder outputs only), each passing parity on the fp32 reference', async () => {
    const out = join(scratch('stress'), 'set');
    const r = cli(['golden', 'make', '--model', model, '--stress', '--max-tokens', '130', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const expected: Record<string, number[]> = { 'single-1': [1], 'single-63': [63], 'single-64': [64], 'single-65': [65], 'single-128': [128], 'single-129': [129], 'one-token': [45, 1, 7], 'beyond-window': [53, 5] };
    expect(readdirSync(out).sort()).toEqual([...Object.keys(expected), 'stress.json'].sort());
    const index = JSON.parse(readFileSync(join(out, 'stress.json'), 'utf8'));
    expect(Object.fromEntries(index.skipped.map((s: { name: string; reason: string }) => [s.name, s.reason]))).toEqual({
      'single-513': '513 tokens is more than max_position_embeddings (512)',
      'single-4097': '4097 tokens is more than max_position_embeddings (512)',
      'single-8192': '8192 tokens is more than max_position_embeddings (512)',
      'mixed-96': '211 tokens is more than --max-tokens 130',
    });
    expect(r.stdout).toContain('skipped single-8192');
    for (const [name, lengths] of Object.entries(expected)) {
      const dir = join(out, name);
      const json = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
      expect(json.seq_lengths, name).toEqual(lengths);
      expect(Object.keys(json.io_tensors), name).toEqual(['input_ids', 'attention_mask', 'last_hidden_state', 'last_hidden_state_f64', 'hidden_states']);
      const result = await runParity(dir, 'reference', 'fp32');
      expect(result.pass, `${name}: ${JSON.stringify(result.max_abs_err)}`).toBe(true);
    }
    // the weights are copied once and hard-linked into the other cases
    expect(statSync(join(out, 'single-1', 'model.safetensors')).ino).toBe(statSync(join(out, 'beyond-window', 'model.safetensors')).ino);
  });
});

describe('modernbert crosscheck', () => {
  it('prints a row per shape and backend; reference and webgpu pass on reduced lengths', () => {
    const r = cli(['crosscheck', '--model', model, '--backends', 'reference,webgpu', '--max-tokens', '64']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('| shape | lengths | backend | last_hidden_state max / mean | hidden_states max / mean | non-finite | pass |');
    const rows = lines.slice(2).map((l) => l.split('|').map((c) => c.trim()).slice(1, -1));
    // single-1, -63, -64, one-token (53 tokens), beyond-window (58), each on both backends
    expect(rows.map((c) => `${c[0]} ${c[2]}`)).toEqual(['single-1', 'single-63', 'single-64', 'one-token', 'beyond-window'].flatMap((s) => [`${s} reference`, `${s} webgpu`]));
    for (const c of rows) expect(c.slice(5)).toEqual(['0', 'yes']);
    expect(r.stderr).toContain('skipped single-65 (lengths 65): 65 tokens is more than --max-tokens 64');
  });

  it('--json prints one object per row with the documented keys', () => {
    const r = cli(['crosscheck', '--model', model, '--backends', 'reference', '--max-tokens', '63', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((row) => row.shape)).toEqual(['single-1', 'single-63', 'one-token', 'beyond-window']);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(['shape', 'lengths', 'backend', 'max_abs_err', 'mean_abs_err', 'tolerance', 'non_finite', 'pass']);
      expect(Object.keys(row.max_abs_err)).toEqual(['last_hidden_state', 'hidden_states']);
      expect(row).toMatchObject({ backend: 'reference', non_finite: 0, pass: true });
      expect(row.max_abs_err.last_hidden_state).toBeLessThan(1e-5);
    }
  });

  it('an unavailable backend named explicitly is bad input that says why', () => {
    const r = cli(['crosscheck', '--model', model, '--backends', 'reference,webgpu'], { VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--backends: webgpu is not available here: no WebGPU adapter/);
  });
});

describe('bad inputs: exit 2, one line naming the culprit, nothing written', () => {
  const long = 'word '.repeat(600);
  const MISSING = '/nonexistent/modernbert-golden';
  const cases: [string, () => string[], string | RegExp][] = [
    ['a missing model folder', () => ['golden', 'make', '--model', MISSING, '--lengths', '9'], `${MISSING}: no such model folder`],
    ['a model folder without config.json', () => ['golden', 'make', '--model', scratch('empty-model'), '--lengths', '9'], 'config.json: file not found'],
    ['a missing texts file', () => ['golden', 'make', '--model', model, '--texts', `${MISSING}.txt`], `--texts: ${MISSING}.txt: file not found`],
    ['an empty texts file', () => ['golden', 'make', '--model', model, '--texts', file('blank.txt', '\n  \n')], 'blank.txt: no text in the file'],
    ['a text longer than max_position_embeddings', () => ['golden', 'make', '--model', model, '--texts', file('long.txt', `short\n${long}\n`)], /long\.txt: line 2 has \d+ tokens, more than max_position_embeddings \(512\)/],
    ['a zero length', () => ['golden', 'make', '--model', model, '--lengths', '9,0'], '--lengths: "0"'],
    ['a length that is not a number', () => ['golden', 'make', '--model', model, '--lengths', 'nine'], '--lengths: "nine"'],
    ['a length over max_position_embeddings', () => ['golden', 'make', '--model', model, '--lengths', '600'], '--lengths: 600 is more than max_position_embeddings (512)'],
    ['neither --texts nor --lengths', () => ['golden', 'make', '--model', model], '--texts FILE or --lengths SPEC'],
    ['an unknown --weights', () => ['golden', 'make', '--model', model, '--lengths', '9', '--weights', 'symlink'], '--weights must be copy or link, got "symlink"'],
    ['a bad --seed', () => ['golden', 'make', '--model', model, '--lengths', '9', '--seed', '1.5'], '--seed must be an integer'],
    ['--stress with --lengths', () => ['golden', 'make', '--model', model, '--stress', '--lengths', '9'], '--stress writes its own shapes'],
    ['a bad --max-tokens', () => ['golden', 'make', '--model', model, '--stress', '--max-tokens', '0'], '--max-tokens must be a positive integer'],
    ['crosscheck with an unknown backend', () => ['crosscheck', '--model', model, '--backends', 'reference,nope'], 'unknown backend "nope"'],
    ['crosscheck f16 on a backend without it', () => ['crosscheck', '--model', model, '--backends', 'gpujs:webasm:f16'], 'f16 storage is webgpu\'s only'],
    ['crosscheck with a missing model', () => ['crosscheck', '--model', MISSING, '--backends', 'reference'], `${MISSING}: no such model folder`],
  ];
  function file(name: string, text: string): string {
    const f = join(root, name);
    writeFileSync(f, text);
    return f;
  }

  // In this process (main(), as bin/modernbert.js runs it): a spawn per case would cost a second each.
  it.each(cases)('%s', async (_, args, culprit) => {
    const parent = mkdtempSync(join(root, 'bad-'));
    const out = join(parent, 'case');
    const argv = args();
    let stdout = '';
    let stderr = '';
    const code = await main(argv[0] === 'golden' ? [...argv, '--out', out] : argv, (s) => (stdout += s), (s) => (stderr += s));
    expect(code, stderr).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(culprit);
    expect(readdirSync(parent)).toEqual([]); // neither the case nor a temporary folder
  });

  it('an --out that exists and is not empty is refused, and left as it was', () => {
    const out = scratch('taken');
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const r = cli(['golden', 'make', '--model', model, '--lengths', '9', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--out: ${out} exists and is not an empty folder`);
    expect(readdirSync(out)).toEqual(['keep.txt']);
    // an empty folder is fine
    const empty = scratch('empty-out');
    expect(cli(['golden', 'make', '--model', model, '--lengths', '9', '--out', empty, '--weights', 'link']).code).toBe(0);
    expect(existsSync(join(empty, 'io.safetensors'))).toBe(true);
    expect(readdirSync(root).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});
