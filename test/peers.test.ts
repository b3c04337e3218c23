// The benchmark peers: PyTorch/transformers (torch_peer.py) and transformers.js on ONNX Runtime (on the graph
// onnx-export.ts writes). The ONNX Runtime peer needs no Python: it always runs, and its outputs are compared
// with the reference. Where the Python found by findPython() imports torch, the torch peer runs for real too;
// where it does not, the same tests assert the skip reason runPeers gives instead.
import { spawnSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESULT_COLUMNS } from '../benchmarks/results.ts';
import { type PeerRun, findPython, runChild, runPeers } from '../benchmarks/peers/index.ts';
import { ONNX_EXPORT_NOTE } from '../benchmarks/peers/onnx-graph.ts';
import { randomSequences } from '../benchmarks/workloads.ts';
import { randomTensors } from '../reference/checkpoint.ts';
import { type ModernBertConfig, parseConfig, presetConfig } from '../reference/config.ts';
import { loadCheckpoint, readSafetensors, saveCheckpoint } from '../reference/files.ts';
import { forward } from '../reference/modernbert.ts';
import { fp32 } from '../reference/ops.ts';
import { tempDir } from './helpers.ts';

const PEERS_DIR = join(import.meta.dirname, '..', 'benchmarks', 'peers');
const TORCH_PEER = join(PEERS_DIR, 'torch_peer.py');
const REGISTER = join(import.meta.dirname, '..', 'bin', 'register.js');

const python = findPython();
const torchCheck = spawnSync(python, [TORCH_PEER, '--check'], { encoding: 'utf8', timeout: 120_000 });
const hasTorch = torchCheck.status === 0;
/** What runPeers must say when torch is missing: the interpreter and the import that failed. */
const NO_TORCH = new RegExp(`^torch: (${escape(python)} cannot import|no Python interpreter)`);

// A tiny model (local window 16, so 20-32 token sequences meet it) for the ONNX Runtime peer; `small` for torch.
const TINY = parseConfig({ hidden_size: 64, intermediate_size: 96, num_attention_heads: 4, num_hidden_layers: 2, vocab_size: 1000, local_attention: 16, pad_token_id: 0 }, 'tiny test config');

function checkpoint(config: ModernBertConfig): string {
  const dir = join(tempDir(), 'checkpoint');
  saveCheckpoint(dir, config, randomTensors(config, 7));
  return dir;
}

function workloads(config: ModernBertConfig) {
  return [{ name: '32x1,20x1', sequences: randomSequences([32, 20], config.vocabSize, 11) }];
}

function baseRun(dir: string, config: ModernBertConfig, peers: PeerRun['peers']): PeerRun {
  return { checkpointDir: dir, workloads: workloads(config), runs: 2, warmup: 1, device: 'cpu', common: { date: '2026-01-01T00:00:00Z', commit: 'abc1234', device: 'cpu-test', config: 'test' }, peers };
}

/** Max |a - b| between a peer's dumped [T, C] real-token rows and the fp32 reference on the same ids. */
function maxDiffToReference(dir: string, sequences: ArrayLike<number>[], dumped: Float32Array): number {
  const { config, weights } = loadCheckpoint(dir, fp32);
  const expected = forward({ config, weights, precision: fp32 }, sequences).lastHiddenState;
  expect(dumped.length).toBe(expected.length);
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(expected[i] - dumped[i]));
  return max;
}

describe('findPython', () => {
  it('prefers MODERNBERT_PYTHON, then the project .venv, then python3', () => {
    const saved = process.env.MODERNBERT_PYTHON;
    try {
      process.env.MODERNBERT_PYTHON = '/opt/some/python';
      expect(findPython()).toBe('/opt/some/python');
      delete process.env.MODERNBERT_PYTHON;
      expect(findPython()).toMatch(/(^python3$|\/\.venv\/bin\/python$)/);
    } finally {
      if (saved === undefined) delete process.env.MODERNBERT_PYTHON;
      else process.env.MODERNBERT_PYTHON = saved;
    }
  });
});

describe('runPeers without a working peer', () => {
  it('without Python skips torch with a one-line reason, and the ONNX Runtime peer still runs', async () => {
    const dir = checkpoint(TINY);
    const { rows, skipped } = await runPeers({ ...baseRun(dir, TINY, ['torch', 'transformersjs']), python: '/nonexistent/python3' });
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^torch: no Python interpreter "\/nonexistent\/python3"/);
    expect(skipped[0]).not.toContain('\n');
    expect(rows.map((r) => `${r.backend}/${r.variant}`)).toEqual(['transformersjs/onnxruntime-cpu']);
  });

  it('says why when the ONNX export fails (a checkpoint without weights)', async () => {
    const dir = checkpoint(TINY);
    rmSync(join(dir, 'model.safetensors'));
    const { rows, skipped } = await runPeers(baseRun(dir, TINY, ['transformersjs']));
    expect(rows).toEqual([]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^transformersjs: 0 of 1 rows, then it failed \(exit 1\): the ONNX export failed: /);
  });

  it('keeps the rows a failing peer printed, rejects rows without the result columns, and says why', async () => {
    // A stand-in interpreter: passes --check, prints a good row and a short one, then fails.
    const fake = join(tempDir(), 'python');
    const good = JSON.stringify(Object.fromEntries(RESULT_COLUMNS.map((c) => [c, c === 'backend' ? 'torch' : null])));
    writeFileSync(fake, `#!/bin/sh\ncase " $* " in *" --check "*) echo "python 0; torch 0"; exit 0;; esac\necho '${good}'\necho '{"backend": "torch"}'\necho "torch_peer: out of memory" >&2\nexit 1\n`);
    chmodSync(fake, 0o755);
    const { rows, skipped } = await runPeers({ ...baseRun(checkpoint(TINY), TINY, ['torch']), python: fake });
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0])).toEqual([...RESULT_COLUMNS]);
    expect(skipped).toHaveLength(2);
    expect(skipped[0]).toMatch(/^torch: a row does not match RESULT_COLUMNS \(missing date, commit/);
    expect(skipped[1]).toBe('torch: 1 of 2 rows, then it failed (exit 1): out of memory');
  });

  it('kills a child that runs past its time limit', async () => {
    const started = Date.now();
    const child = await runChild(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { timeoutSeconds: 1 });
    expect(child.timedOut).toBe(true);
    expect(child.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('torch peer', () => {
  it(`runs sdpa and eager on the small config and prints result rows${hasTorch ? '' : ' (torch missing here: asserts the skip)'}`, async () => {
    const dir = checkpoint(presetConfig('small'));
    const run = baseRun(dir, presetConfig('small'), ['torch']);
    const { rows, skipped } = await runPeers(run);
    if (!hasTorch) {
      expect(rows).toEqual([]);
      expect(skipped).toHaveLength(1);
      expect(skipped[0]).toMatch(NO_TORCH);
      return;
    }
    expect(skipped).toEqual([]);
    expect(rows.map((r) => r.variant)).toEqual(['sdpa', 'eager']);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual([...RESULT_COLUMNS]);
      expect(row).toMatchObject({ ...run.common, kind: 'model', name: '32x1,20x1', backend: 'torch', dtype: 'fp32', sequences: 2, tokens: 52, runs: 2, peak_bytes: null });
      const median = row.median_s as number;
      expect(median).toBeGreaterThan(0);
      expect(row.min_s as number).toBeLessThanOrEqual(median);
      expect(row.max_s as number).toBeGreaterThanOrEqual(median);
      expect(row.tokens_per_s as number).toBeCloseTo(52 / median, 6);
      expect(row.runtime).toMatch(/^python \d+\.\d+\.\d+$/);
      expect(row.versions).toMatch(/^torch \S+; transformers \S+$/);
      expect(row.note).toContain('64 tokens computed for 52 real');
      expect(row.note).toContain('GLIBC_TUNABLES=');
    }
  });

  it(`computes what the reference computes on the real tokens (fp32, 1e-4)${hasTorch ? '' : ' (torch missing here: asserts --check says so)'}`, () => {
    if (!hasTorch) return expectCheckFails();
    const config = presetConfig('small');
    const dir = checkpoint(config);
    const sequences = workloads(config)[0].sequences;
    const workloadFile = join(tempDir(), 'workloads.json');
    writeFileSync(workloadFile, JSON.stringify({ workloads: [{ name: 'w', sequences: sequences.map((s) => Array.from(s)) }] }));
    const dump = join(tempDir(), 'hidden.safetensors');
    const r = spawnSync(python, [TORCH_PEER, '--checkpoint', dir, '--workloads', workloadFile, '--runs', '1', '--warmup', '0', '--dump-hidden', dump], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const tensors = readSafetensors(dump).tensors;
    for (const impl of ['sdpa', 'eager']) {
      const diff = maxDiffToReference(dir, sequences, tensors.get(`w.${impl}`)!.data as Float32Array);
      expect(diff, `${impl}: max abs diff ${diff}`).toBeLessThan(1e-4);
    }
  });
});

describe('transformers.js peer', () => {
  it('writes the ONNX graph and runs it end to end on a tiny config, with no Python', async () => {
    const dir = checkpoint(TINY);
    const run = { ...baseRun(dir, TINY, ['transformersjs']), python: '/nonexistent/python3' };
    const { rows, skipped } = await runPeers(run);
    expect(skipped).toEqual([]);
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0])).toEqual([...RESULT_COLUMNS]);
    expect(rows[0]).toMatchObject({ ...run.common, kind: 'model', backend: 'transformersjs', variant: 'onnxruntime-cpu', dtype: 'fp32', sequences: 2, tokens: 52, runs: 2 });
    expect(rows[0].runtime).toBe(`node ${process.versions.node}`);
    expect(rows[0].versions).toMatch(/^@huggingface\/transformers 4\.\S+; onnxruntime-node \S+$/);
    expect(rows[0].note).toBe(`padded batch: 64 tokens computed for 52 real; ${ONNX_EXPORT_NOTE}`);
  });

  it('computes what the reference computes on the real tokens (fp32, 1e-4)', () => {
    const dir = checkpoint(TINY);
    const sequences = workloads(TINY)[0].sequences;
    const workloadFile = join(tempDir(), 'workloads.json');
    writeFileSync(workloadFile, JSON.stringify({ workloads: [{ name: 'w', sequences: sequences.map((s) => Array.from(s)) }] }));
    const dump = join(tempDir(), 'hidden.safetensors');
    const r = spawnSync(process.execPath, ['--import', REGISTER, join(PEERS_DIR, 'transformersjs.ts'), '--checkpoint', dir, '--workloads', workloadFile, '--runs', '1', '--warmup', '0', '--dump-hidden', dump], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const diff = maxDiffToReference(dir, sequences, readSafetensors(dump).tensors.get('w.onnxruntime-cpu.fp32')!.data as Float32Array);
    expect(diff).toBeLessThan(1e-4);
  });

  it('runs the fp16 graph beside the fp32 one (model_fp16.onnx, as transformers.js ships it), each a row of its dtype', () => {
    const dir = checkpoint(TINY);
    const sequences = workloads(TINY)[0].sequences;
    const workloadFile = join(tempDir(), 'workloads.json');
    writeFileSync(workloadFile, JSON.stringify({ workloads: [{ name: 'w', sequences: sequences.map((s) => Array.from(s)) }] }));
    const dump = join(tempDir(), 'hidden.safetensors');
    const r = spawnSync(process.execPath, ['--import', REGISTER, join(PEERS_DIR, 'transformersjs.ts'), '--checkpoint', dir, '--workloads', workloadFile, '--dtype', 'fp32,fp16', '--runs', '1', '--warmup', '0', '--dump-hidden', dump], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => `${x.variant} ${x.dtype}`)).toEqual(['onnxruntime-cpu fp32', 'onnxruntime-cpu fp16']);
    const hidden = readSafetensors(dump).tensors;
    // f16 weights and activations: near the fp32 reference, and not as near as fp32
    const diff = maxDiffToReference(dir, sequences, hidden.get('w.onnxruntime-cpu.fp16')!.data as Float32Array);
    expect(diff).toBeLessThan(5e-2);
    expect(diff).toBeGreaterThan(1e-4);
  });

  it('refuses a dtype it has no graph for, naming it (exit 2)', () => {
    const r = spawnSync(process.execPath, ['--import', REGISTER, join(PEERS_DIR, 'transformersjs.ts'), '--checkpoint', 'x', '--workloads', 'y', '--dtype', 'fp32,bf16'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('transformersjs: --dtype takes fp32 and fp16, got "bf16"');
  });
});

/** Without torch, torch_peer.py --check exits 3 with a one-line reason (what runPeers turns into a skip line). */
function expectCheckFails(): void {
  const r = spawnSync(python, [TORCH_PEER, '--check'], { encoding: 'utf8' });
  expect(r.status).toBe(3);
  expect(r.stderr.trim().split('\n').at(-1)).toMatch(/No module named 'torch'|cannot import/);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
