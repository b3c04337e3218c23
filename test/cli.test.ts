import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toFloat32 } from '../reference/safetensors.ts';
import { GOLDEN, copyOfCase, tempDir } from './helpers.ts';
import { readSafetensors, writeSafetensors } from '../reference/files.ts';
import { linuxGpuDeviceNodes } from '../optimized/webgpu/device.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'modernbert.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Adds `delta` to one value of an expected output in a copy of a case. */
function tamper(name: string, output: string, index: number, delta: number): string {
  const dir = copyOfCase(name);
  const file = join(dir, 'io.safetensors');
  const io = readSafetensors(file).tensors;
  const t = io.get(output)!;
  const data = Float32Array.from(toFloat32(t));
  data[index] += delta;
  io.set(output, { ...t, data });
  writeSafetensors(file, io);
  return dir;
}

describe('modernbert parity', () => {
  it('prints exactly one JSON line with the contract keys, and exits 0 on a pass', () => {
    const { code, stdout } = cli('parity', join(GOLDEN, 'tiny'), '--backend', 'reference');
    expect(code).toBe(0);
    expect(stdout.endsWith('\n')).toBe(true);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const result = JSON.parse(stdout);
    expect(Object.keys(result)).toEqual(['case', 'backend', 'precision', 'max_abs_err', 'tolerance', 'pass']);
    expect(result).toMatchObject({ case: 'tiny', backend: 'reference', precision: 'fp32', pass: true });
    expect(result.tolerance).toEqual({ last_hidden_state: 1e-4, hidden_states: 1e-4, mlm_logits: 2e-4, cls_logits: 1e-4, mean_logits: 1e-4 });
  });

  it('runs the WebGPU backend with the same contract', () => {
    const { code, stdout } = cli('parity', join(GOLDEN, 'meanpool'), '--backend', 'webgpu');
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(Object.keys(result)).toEqual(['case', 'backend', 'precision', 'max_abs_err', 'tolerance', 'pass']);
    expect(result).toMatchObject({ case: 'meanpool', backend: 'webgpu', precision: 'fp32', pass: true });
  });

  it('compares the float64 tensors in fp64 mode', () => {
    const { code, stdout } = cli('parity', join(GOLDEN, 'rope'), '--precision', 'fp64');
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.precision).toBe('fp64');
    expect(result.tolerance).toEqual({ last_hidden_state_f64: 1e-9, cls_logits_f64: 1e-9, mean_logits_f64: 1e-9 });
  });

  it('exits 1 and reports pass false when an output is off on a real token', () => {
    // tiny: B=3, L=12, C=32; token 0 of sequence 0 is real.
    const { code, stdout } = cli('parity', tamper('tiny', 'last_hidden_state', 5, 1e-3));
    expect(code).toBe(1);
    const result = JSON.parse(stdout);
    expect(result.pass).toBe(false);
    expect(result.max_abs_err.last_hidden_state).toBeGreaterThan(9e-4);
    expect(result.max_abs_err.mlm_logits).toBeLessThan(2e-4);
  });

  it('ignores padding positions', () => {
    // Sequence 0 of tiny has 7 real tokens; position 10 is padding.
    const { code } = cli('parity', tamper('tiny', 'last_hidden_state', 10 * 32 + 3, 5));
    expect(code).toBe(0);
  });

  it('exits 2 with one line naming the file on bad input', () => {
    const noIo = copyOfCase('tiny');
    rmSync(join(noIo, 'io.safetensors'));
    let r = cli('parity', noIo);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/io\.safetensors: file not found/);

    const noIds = copyOfCase('tiny');
    const io = readSafetensors(join(noIds, 'io.safetensors')).tensors;
    io.delete('input_ids');
    writeSafetensors(join(noIds, 'io.safetensors'), io);
    r = cli('parity', noIds);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/io\.safetensors: field "input_ids" is missing/);

    const badId = copyOfCase('tiny');
    const ioWithBadId = readSafetensors(join(badId, 'io.safetensors')).tensors;
    const ids = ioWithBadId.get('input_ids')!;
    const badIds = Int32Array.from(ids.data as Int32Array);
    badIds[13] = 128; // sequence 1, position 1: vocab_size is 128
    ioWithBadId.set('input_ids', { ...ids, data: badIds });
    writeSafetensors(join(badId, 'io.safetensors'), ioWithBadId);
    r = cli('parity', badId);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/io\.safetensors: field "input_ids": token id 128 at sequence 1, position 1 is out of range: vocab_size is 128/);

    const corrupt = copyOfCase('tiny');
    writeFileSync(join(corrupt, 'model.safetensors'), new Uint8Array(100));
    r = cli('parity', corrupt);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/tiny\/model\.safetensors: the header is not valid UTF-8 JSON/);

    const badConfig = copyOfCase('tiny');
    writeFileSync(join(badConfig, 'config.json'), JSON.stringify({ hidden_size: 30, num_attention_heads: 4 }));
    r = cli('parity', badConfig);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config\.json: field "hidden_size" \(30\) must be divisible by num_attention_heads \(4\)/);
  });

  it('checks token classification and question answering outputs, the latter only with 2 labels', () => {
    const { code, stdout } = cli('parity', join(GOLDEN, 'relu'), '--backend', 'reference');
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(Object.keys(result.max_abs_err)).toEqual(expect.arrayContaining(['token_logits', 'start_logits', 'end_logits']));
    expect(result.tolerance).toMatchObject({ token_logits: 1e-4, start_logits: 1e-4, end_logits: 1e-4 });
    // relu: B=3, L=11, 2 labels; sequence 1 is 11 real tokens: its token 4's end logit, off by 1e-3, fails
    const off = cli('parity', tamper('relu', 'end_logits', 11 + 4, 1e-3), '--backend', 'reference');
    expect(off.code).toBe(1);
    expect(JSON.parse(off.stdout).max_abs_err.end_logits).toBeGreaterThan(9e-4);
    // a QA output on a 3-label case (swiglu) is bad input naming the field
    const qa = copyOfCase('swiglu');
    const io = readSafetensors(join(qa, 'io.safetensors')).tensors;
    io.set('start_logits', { dtype: 'F32', shape: [2, 9], data: new Float32Array(18) });
    writeSafetensors(join(qa, 'io.safetensors'), io);
    expect(cli('parity', qa)).toMatchObject({ code: 2, stderr: expect.stringMatching(/io\.safetensors: field "start_logits" is a question answering output, which needs num_labels 2 in config\.json \(it has 3\)/) });
  });

  it('exits 2 on a bad option', () => {
    expect(cli('parity', join(GOLDEN, 'tiny'), '--precision', 'fp16')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--precision must be fp32 or fp64/) });
    expect(cli('parity', join(GOLDEN, 'tiny'), '--backend', 'cuda')).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown backend "cuda" \(available: reference, webgpu, gpujs, gpujs:webgpu, gpujs:webasm, gpujs:cpu\)/) });
    expect(cli('parity')).toMatchObject({ code: 2, stderr: expect.stringMatching(/expected one case directory/) });
    expect(cli('frobnicate').code).toBe(2);
  });
});

describe('modernbert info', () => {
  it('--model says what a checkpoint folder is, from its files, including sentence-transformers modules', () => {
    const dir = join(tempDir(), 'example');
    expect(cli('example-checkpoint', dir).code).toBe(0);
    const plain = cli('info', '--model', dir);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.split('\n')).toEqual([
      `folder: ${dir}`,
      'architecture: ModernBertForMaskedLM',
      'shape: 3 layers, hidden 64, 4 heads, intermediate 96, vocab 50368, up to 512 tokens',
      'activations: hidden gelu, classifier gelu',
      'heads: classifier (2 labels: negative, positive; mean pooling), mlm',
      expect.stringMatching(/^weights: model\.safetensors: 25 tensors, [\d,]+ parameters, F32 x 25 \(12\.9 MiB\)$/),
      'tokenizer: tokenizer.json, model_max_length 8192',
      'sentence-transformers: no (no modules.json)',
      '',
    ]);
    // A sentence-transformers folder: modules, the pooling module's mode, prompts (nomic-embed style).
    writeFileSync(join(dir, 'modules.json'), JSON.stringify([{ idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' }, { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' }, { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' }]));
    mkdirSync(join(dir, '1_Pooling'));
    writeFileSync(join(dir, '1_Pooling', 'config.json'), JSON.stringify({ word_embedding_dimension: 64, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true, pooling_mode_max_tokens: false }));
    writeFileSync(join(dir, 'config_sentence_transformers.json'), JSON.stringify({ prompts: { search_query: 'search_query: ', search_document: 'search_document: ' }, default_prompt_name: null }));
    const st = JSON.parse(cli('info', '--model', dir, '--json').stdout);
    expect(st.sentenceTransformers).toEqual({ modules: ['Transformer', 'Pooling', 'Normalize'], pooling: ['mean'], prompts: ['search_query', 'search_document'], defaultPrompt: null, similarity: 'cosine' });
    writeFileSync(join(dir, '1_Pooling', 'config.json'), JSON.stringify({ embedding_dimension: 64, pooling_mode: ['cls', 'mean'], include_prompt: false })); // sentence-transformers 6
    expect(JSON.parse(cli('info', '--model', dir, '--json').stdout).sentenceTransformers.pooling).toEqual(['cls (prompt excluded)', 'mean (prompt excluded)']);
    expect(st.weights).toMatchObject({ files: ['model.safetensors'], tensors: 25, dtypes: { F32: 25 } });
    // bad input names the file
    writeFileSync(join(dir, 'modules.json'), '{"not": "a list"}');
    expect(cli('info', '--model', dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/modules\.json: expected a JSON array of modules/) });
    expect(cli('info', '--model', join(dir, 'missing'))).toMatchObject({ code: 2, stderr: expect.stringMatching(/missing: no such model folder/) });
  });

  it("keeps the Vulkan loader's and Dawn's start-up noise off stderr on a headless machine: only the SwiftShader notice", async () => {
    const { XDG_RUNTIME_DIR: _, ...env } = process.env;
    const noGpu = (await linuxGpuDeviceNodes()).length === 0 && !env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES;
    for (const args of [['info'], ['parity', join(GOLDEN, 'tiny'), '--backend', 'webgpu']]) {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/XDG_RUNTIME_DIR/);
      // Without a GPU, Dawn is not asked for one (its rejection of Mesa's CPU driver printed 4 lines here).
      if (noGpu) expect(r.stderr, args[0]).toMatch(/^webgpu: no GPU adapter found; using SwiftShader \(.*\): correct but slow\n$/);
    }
  });

  it('finds the GPU device nodes of Linux drivers, and none where there are none', async () => {
    const dev = tempDir();
    expect(await linuxGpuDeviceNodes(dev)).toEqual([]);
    mkdirSync(join(dev, 'dri'));
    for (const f of ['nvidia0', 'nvidiactl', 'kfd', 'null', 'dri/renderD128', 'dri/by-path']) writeFileSync(join(dev, f), '');
    expect(await linuxGpuDeviceNodes(dev)).toEqual([`${dev}/dri/renderD128`, `${dev}/kfd`, `${dev}/nvidia0`]);
  });

  it('lists versions and the backends of this machine', () => {
    const { code, stdout } = cli('info', '--json');
    expect(code).toBe(0);
    const info = JSON.parse(stdout);
    expect(info.node).toBe(process.versions.node);
    expect(info.backends.map((b: { name: string }) => b.name)).toContain('reference');
    expect(cli('info').stdout).toMatch(/backends:\n {2}\+ reference .*\n {2}\+ webgpu +WGSL kernels on /);
    // gpu.js: the mode auto selection runs (webgpu: SwiftShader is an adapter), and each forced mode
    const gpujs = Object.fromEntries(info.backends.filter((b: { name: string }) => b.name.startsWith('gpujs')).map((b: { name: string; available: boolean; detail: string }) => [b.name, b]));
    expect(Object.keys(gpujs)).toEqual(['gpujs', 'gpujs:webgpu', 'gpujs:webasm', 'gpujs:cpu']);
    expect(gpujs.gpujs).toMatchObject({ available: true, detail: 'runs as gpujs:webgpu' });
    for (const mode of ['webgpu', 'webasm', 'cpu']) expect(gpujs[`gpujs:${mode}`].available).toBe(true);
    // the engine's kernel choices (no tuning cache here: the defaults), and tensor cores: SwiftShader has none, and says so
    expect(info.backends.find((b: { name: string }) => b.name === 'webgpu').detail).toMatch(/; default tiles \(modernbert tune times others\)$/);
    expect(info.subgroupMatrix).toEqual({ available: false, configs: [], detail: 'the adapter does not offer chromium-experimental-subgroup-matrix (asked with allow_unsafe_apis); --gemm sgmat and --attention flash_sgmat run emulated in plain WGSL (for tests: slow)' });
    expect(cli('info').stdout).toMatch(/\nsubgroup matrices \(tensor cores\): unavailable: the adapter does not offer chromium-experimental-subgroup-matrix/);
  });
});

describe('modernbert tokenize', () => {
  const TOKENIZER = join(GOLDEN, '..', 'tokenizer', 'modernbert');

  it('prints the ids as JSON (the issue\'s example), one line per text, pairs with --pair', () => {
    expect(cli('tokenize', '--tokenizer', TOKENIZER, 'The capital of France is [MASK].')).toMatchObject({ code: 0, stdout: '[50281,510,5347,273,6181,310,50284,15,50282]\n' });
    expect(cli('tokenize', 'Hello world! This is a test.', 'The apple and banana are fruits')).toMatchObject({ code: 0, stdout: '[50281,12092,1533,2,831,310,247,1071,15,50282]\n[50281,510,19126,285,36767,403,18098,50282]\n' });
    expect(cli('tokenize', '--pair', 'Paris is nice.', 'The capital of France is [MASK].').stdout).toBe('[50281,510,5347,273,6181,310,50284,15,50282,36062,310,5322,15,50282]\n');
  });

  it('a text past --max-length is exit 2 with nothing printed, unless --truncate', () => {
    expect(cli('tokenize', '--max-length', '5', 'ok', 'The capital of France is [MASK].')).toMatchObject({ code: 2, stdout: '', stderr: 'modernbert tokenize: text 1 has 9 tokens, more than the maximum length 5, and truncation is off\n' });
    expect(cli('tokenize', '--max-length', '5', '--truncate', 'The capital of France is [MASK].').stdout).toBe('[50281,510,5347,273,50282]\n');
    expect(cli('tokenize', '--max-length', 'x', 'a')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--max-length must be an integer >= 2, got "x"/) });
    expect(cli('tokenize')).toMatchObject({ code: 2, stderr: expect.stringMatching(/expected at least one text/) });
    expect(cli('tokenize', '--tokenizer', '/nonexistent', 'a')).toMatchObject({ code: 2, stderr: expect.stringMatching(/\/nonexistent\/tokenizer\.json: file not found/) });
  });
});
