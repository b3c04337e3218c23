// The library and CLI as a newcomer meets them (issue 26): short usage, the nearest command or option for a typo,
// one message for a missing model folder, --out checked before any work and confirmed after, blank --file lines
// named, a [MASK] lost to truncation said as such, long texts never echoed whole, tasks that need a trained head
// refused on a checkpoint without one, example folders of every kind, and an interrupted bench that leaves
// nothing behind.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { closestMatch } from '../cli/suggest.ts';
import { EXAMPLE_KINDS, writeExampleCheckpoint } from '../tasks/example.ts';
import { loadModel } from '../tasks/index.ts';
import { tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'modernbert.js');
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

function example(kind: (typeof EXAMPLE_KINDS)[number]): string {
  const dir = join(tempDir(), kind);
  writeExampleCheckpoint(dir, 0, kind);
  return dir;
}

describe('the command line for a newcomer', () => {
  it('with no arguments prints the commands in a few lines; help prints everything', () => {
    const none = cli();
    expect(none.code).toBe(2);
    expect(none.stderr.trim().split('\n')).toHaveLength(3);
    expect(none.stderr).toMatch(/^usage: modernbert <command> \[options\]\ncommands: parity, .*embed.*rerank.*\n`modernbert help` prints every command's options\.\n$/);
    const help = cli('help');
    expect(help.code).toBe(0);
    expect(help.stdout.split('\n').length).toBeGreaterThan(50);
  });

  it('names the nearest command or option for a typo, in one line', () => {
    expect(cli('embd')).toMatchObject({ code: 2, stderr: 'modernbert: unknown command "embd"; did you mean "embed"? (`modernbert help` lists the commands)\n' });
    expect(cli('zzzzzz')).toMatchObject({ code: 2, stderr: 'modernbert: unknown command "zzzzzz" (`modernbert help` lists the commands)\n' });
    expect(cli('embed', '--modle', 'x', 'text')).toMatchObject({ code: 2, stderr: 'modernbert embed: unknown option --modle; did you mean --model?\n' });
    expect(closestMatch('--top-kk', ['--top-k', '--out'])).toBe('--top-k');
    expect(closestMatch('--zzz', ['--top-k', '--out'])).toBeNull();
    expect(closestMatch('--frobnicate', ['--truncate', '--model'])).toBeNull(); // 4 edits away: no suggestion
  });

  it('says one thing for a missing model folder, whatever the command', () => {
    const missing = join(tempDir(), 'missing');
    const message = `${missing}: no such model folder (a folder with config.json, model.safetensors and tokenizer.json, or a Hugging Face name org/name)`;
    for (const args of [['embed', '--model', missing, 'x'], ['fill-mask', '--model', missing, 'a [MASK]'], ['info', '--model', missing], ['rerank', '--model', missing, '--query', 'q', 'd']]) {
      expect(cli(...args), args[0]).toMatchObject({ code: 2, stderr: `modernbert ${args[0]}: ${message}\n` });
    }
  });

  it('checks --out before any work, confirms it after, and names the blank lines of --file it leaves out', () => {
    const dir = example('embedder');
    const texts = join(tempDir(), 'texts.txt');
    writeFileSync(texts, 'first\n\nsecond\n   \nthird\n');
    const nowhere = join(tempDir(), 'no-such-folder', 'out.jsonl');
    expect(cli('embed', '--model', dir, '--backend', 'reference', '--file', texts, '--out', nowhere)).toMatchObject({ code: 2, stderr: `modernbert embed: --out ${nowhere}: the folder ${join(nowhere, '..')} does not exist\n` });
    const out = join(tempDir(), 'out.jsonl');
    const r = cli('embed', '--model', dir, '--backend', 'reference', '--file', texts, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`modernbert: --file ${texts}: skipped 2 blank line(s) (line 2, 4); each output line names its text\n`);
    expect(r.stderr).toContain(`modernbert embed: wrote 3 embedding(s) of 64 values to ${out}\n`);
    expect(readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).text)).toEqual(['first', 'second', 'third']);
  });
});

describe('errors that point at the fix', () => {
  it('says when truncation removed the [MASK], and where it was; never echoes a long text whole', async () => {
    const model = await loadModel(example('masked-lm'), { backend: 'reference' });
    try {
      const long = `${'word '.repeat(2000)}[MASK].`;
      const error = await model.fillMask(long, { truncation: 'truncate' }).catch((e: Error) => e);
      expect(String(error)).toMatch(/^ModelInputError: truncation to 512 tokens removed the \[MASK\] \(token 2002 of the text's 2004\): shorten the text or put the \[MASK\] earlier: "word word .*\.\.\. \(10,007 characters\)$/);
      expect(String(error).length).toBeLessThan(300);
      await expect(model.fillMask('word '.repeat(30))).rejects.toThrow(/^the text has no \[MASK\] token: "word word .*\.\.\. \(150 characters\)$/);
    } finally {
      model.dispose();
    }
  });

  it('refuses rerank and token classification on a checkpoint whose head is another, naming architectures and num_labels', () => {
    const dir = example('masked-lm');
    expect(cli('rerank', '--model', dir, '--backend', 'reference', '--query', 'q', 'd')).toMatchObject({
      code: 2,
      stderr: "modernbert rerank: rerank needs a cross-encoder: a sequence classification head with 1 or 2 labels (architectures ModernBertForSequenceClassification); this checkpoint's config.json has architectures ModernBertForMaskedLM (num_labels 2)\n",
    });
    expect(cli('token-classify', '--model', dir, '--backend', 'reference', 'John')).toMatchObject({
      code: 2,
      stderr: "modernbert token-classify: tokenClassify needs a token classification head (architectures ModernBertForTokenClassification); this checkpoint's config.json has architectures ModernBertForMaskedLM (num_labels 2)\n",
    });
  });
});

describe('example folders of every kind', () => {
  it('writes a masked LM, an embedder, a reranker and a token classifier that the commands run on', async () => {
    const dir = tempDir();
    for (const kind of EXAMPLE_KINDS) {
      const r = cli('example-checkpoint', '--kind', kind, join(dir, kind));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^wrote ${join(dir, kind)} \\(config\\.json, model\\.safetensors, tokenizer\\.json, tokenizer_config\\.json`));
    }
    expect(cli('example-checkpoint', '--kind', 'llm', join(dir, 'x'))).toMatchObject({ code: 2, stderr: 'modernbert example-checkpoint: --kind must be one of masked-lm, embedder, reranker, token-classifier, got "llm"\n' });
    const embedder = await loadModel(join(dir, 'embedder'), { backend: 'reference' });
    const [e] = await embedder.embed(['hello']);
    expect(embedder.sentenceTransformers?.normalize).toBe(true);
    expect(Math.hypot(...e)).toBeCloseTo(1, 5);
    embedder.dispose();
    const reranker = await loadModel(join(dir, 'reranker'), { backend: 'reference' });
    expect(reranker.crossEncoder).toEqual({ activation: 'sigmoid' });
    expect((await reranker.rerank('q', ['a', 'b', 'c'])).map((r) => r.index).sort()).toEqual([0, 1, 2]);
    reranker.dispose();
    const tagger = cli('token-classify', '--model', join(dir, 'token-classifier'), '--backend', 'reference', 'John lives in Paris');
    expect(tagger.code, tagger.stderr).toBe(0);
    for (const entity of JSON.parse(tagger.stdout)) expect(['B-PER', 'I-PER', 'B-LOC', 'I-LOC']).toContain(entity.entity);
    expect(cli('fill-mask', '--model', join(dir, 'masked-lm'), '--backend', 'reference', 'a [MASK] b').code).toBe(0);
  });
});

describe('an interrupted bench', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s: exits as a shell reports it and leaves no model folder behind', async (signal) => {
    const tmp = mkdtempSync(join(tempDir(), 'tmp-'));
    const child = spawn(process.execPath, ['--import', join(ROOT, 'bin', 'register.js'), join(ROOT, 'benchmarks', 'run.ts'), '--suite', 'cpu', '--backends', 'reference:fp64', '--workload', '512x8', '--peers', 'none', '--max-batch', 'no', '--runs', '5', '--out', join(tmp, 'out')], { env: { ...process.env, TMPDIR: tmp } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // The run's model folder exists once the stage starts; then the signal.
    const started = Date.now();
    while (!readdirSync(tmp).some((f) => f.startsWith('modernbert-bench-model-')) || !stderr.includes('reference:fp64')) {
      if (Date.now() - started > 60_000) throw new Error(`the bench did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill(signal);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, stderr).toBe(signal === 'SIGINT' ? 130 : 143);
    expect(stderr).toMatch(new RegExp(`modernbert bench: interrupted \\(${signal}\\); removed `));
    expect(readdirSync(tmp).filter((f) => f.startsWith('modernbert-bench-model-'))).toEqual([]);
    expect(existsSync(join(tmp, 'out'))).toBe(false);
  }, 90_000);
});

describe('an interrupted reference pass', () => {
  it('golden make --stress stops within about a second of Ctrl-C, in the middle of a long fp64 pass, and leaves nothing behind', async () => {
    const work = tempDir();
    const model = join(work, 'model');
    writeExampleCheckpoint(model);
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    writeFileSync(join(model, 'config.json'), JSON.stringify({ ...config, max_position_embeddings: 8192 }));
    const child = spawn(process.execPath, [BIN, 'golden', 'make', '--model', model, '--stress', '--out', join(work, 'stress')]);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (status) => resolve(status)));
    const started = Date.now();
    while (!stdout.includes('made single-513')) {
      if (Date.now() - started > 60_000) throw new Error(`the stress set did not start: ${stdout}${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // One second into the 4097-token case (several seconds of one synchronous pass before forwardAsync).
    await new Promise((r) => setTimeout(r, 1000));
    expect(stdout).not.toContain('made single-4097');
    const signalled = Date.now();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(Date.now() - signalled, stderr).toBeLessThan(2500);
    expect(stderr).toMatch(/modernbert: interrupted \(SIGINT\)\n$/);
    expect(readdirSync(work)).toEqual(['model']); // neither the set nor its temporary folder
  }, 90_000);
});
