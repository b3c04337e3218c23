// `modernbert fill-mask`, `embed` and `classify`: the library API (tasks/) on a checkpoint folder or a Hugging
// Face model name (cli/model-option.ts), from the command line. Output is JSON, one line per text; `embed --out
// FILE` writes the file atomically (all or nothing), with a progress bar on a terminal.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import { writeFileAtomic } from '../reference/files.ts';
import { AGGREGATIONS, type Aggregation, BACKENDS, type Backend, loadModel } from '../tasks/index.ts';
import { MODEL_OPTIONS, modelFolder } from './model-option.ts';

const COMMON = {
  ...MODEL_OPTIONS,
  backend: { type: 'string', default: 'auto' },
  dtype: { type: 'string', default: 'f32' },
  truncate: { type: 'boolean', default: false },
  file: { type: 'string' },
} as const;

export async function fillMaskCommand(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...COMMON, 'top-k': { type: 'string', default: '5' } } });
  const topK = parseTopK(values['top-k']);
  const texts = readTexts(positionals, values.file);
  const model = await open(values.model, values.revision, values.backend, values.dtype);
  try {
    const lines: string[] = [];
    for (const text of texts) lines.push(JSON.stringify(await model.fillMask(text, { topK, truncation: truncation(values.truncate) })));
    out(lines.join('\n') + '\n');
    return 0;
  } finally {
    model.dispose();
  }
}

export async function embedCommand(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...COMMON, out: { type: 'string' }, pooling: { type: 'string' }, normalize: { type: 'boolean', default: false }, prompt: { type: 'string' }, 'prompt-name': { type: 'string' }, dimensions: { type: 'string' } },
  });
  if (values.pooling !== undefined && values.pooling !== 'mean' && values.pooling !== 'cls') throw new Error(`--pooling must be mean or cls, got "${values.pooling}"`);
  const dimensions = values.dimensions === undefined ? undefined : Number(values.dimensions);
  if (dimensions !== undefined && !(Number.isInteger(dimensions) && dimensions >= 1)) throw new Error(`--dimensions must be a positive integer, got "${values.dimensions}"`);
  if (values.out) checkOutFile(values.out);
  const texts = readTexts(positionals, values.file);
  const model = await open(values.model, values.revision, values.backend, values.dtype);
  const bar = values.out && process.stderr.isTTY ? new SingleBar({ format: 'embed [{bar}] {value}/{total} texts', hideCursor: true }, Presets.shades_classic) : null;
  try {
    bar?.start(texts.length, 0);
    const embeddings = await model.embed(texts, { pooling: values.pooling as 'mean' | 'cls' | undefined, normalize: values.normalize, prompt: values.prompt, promptName: values['prompt-name'], dimensions, truncation: truncation(values.truncate), onProgress: (done) => bar?.update(done) });
    const jsonl = texts.map((text, i) => JSON.stringify({ text, embedding: Array.from(embeddings[i]) })).join('\n') + '\n';
    if (values.out) {
      writeFileAtomic(values.out, jsonl);
      process.stderr.write(`modernbert embed: wrote ${texts.length} embedding(s) of ${embeddings[0].length} values to ${values.out}\n`);
    } else out(jsonl);
    return 0;
  } finally {
    bar?.stop();
    model.dispose();
  }
}

export async function rerankCommand(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...COMMON, query: { type: 'string' }, 'top-k': { type: 'string' } } });
  if (values.query === undefined) throw new Error('--query TEXT is required (the documents are the arguments or --file)');
  const topK = values['top-k'] === undefined ? undefined : parseTopK(values['top-k']);
  const documents = readTexts(positionals, values.file);
  const model = await open(values.model, values.revision, values.backend, values.dtype);
  try {
    const ranked = await model.rerank(values.query, documents, { topK, truncation: truncation(values.truncate) });
    out(ranked.map((r) => JSON.stringify({ index: r.index, document: r.document, score: r.score, logits: r.logits })).join('\n') + '\n');
    return 0;
  } finally {
    model.dispose();
  }
}

export async function tokenClassifyCommand(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...COMMON, aggregation: { type: 'string', default: 'none' } } });
  if (!(AGGREGATIONS as readonly string[]).includes(values.aggregation)) throw new Error(`--aggregation must be one of ${AGGREGATIONS.join(', ')}, got "${values.aggregation}"`);
  const texts = readTexts(positionals, values.file);
  const model = await open(values.model, values.revision, values.backend, values.dtype);
  try {
    const results = await model.tokenClassify(texts, { aggregation: values.aggregation as Aggregation, truncation: truncation(values.truncate) });
    out(results.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return 0;
  } finally {
    model.dispose();
  }
}

export async function classifyCommand(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: COMMON });
  const texts = readTexts(positionals, values.file);
  const model = await open(values.model, values.revision, values.backend, values.dtype);
  try {
    const results = await model.classify(texts, { truncation: truncation(values.truncate) });
    out(texts.map((text, i) => JSON.stringify({ text, label: results[i].label, score: results[i].score })).join('\n') + '\n');
    return 0;
  } finally {
    model.dispose();
  }
}

async function open(model: string | undefined, revision: string | undefined, backend: string, dtype: string) {
  if (!model) throw new Error('--model DIR is required (config.json, model.safetensors, tokenizer.json, tokenizer_config.json), or a Hugging Face model name (org/name)');
  if (backend !== 'auto' && !BACKENDS.includes(backend as Backend)) throw new Error(`--backend must be auto or one of ${BACKENDS.join(', ')}, got "${backend}"`);
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`--dtype must be f32 or f16, got "${dtype}"`);
  return loadModel(await modelFolder(model, revision), { backend: backend as Backend | 'auto', dtype });
}

/** The texts: the arguments, or the non-empty lines of --file. */
function readTexts(positionals: string[], file: string | undefined): string[] {
  if (file && positionals.length) throw new Error('give texts as arguments or with --file, not both');
  if (!file) {
    if (positionals.length === 0) throw new Error('no texts: give them as arguments or with --file');
    return positionals;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`--file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
  }
  const all = text.split(/\r?\n/);
  if (all.at(-1) === '') all.pop(); // the newline that ends the last line
  const blank = all.flatMap((l, i) => (l.trim() === '' ? [i + 1] : []));
  const lines = all.filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error(`--file ${file}: no texts (every line is empty)`);
  // Output lines follow the texts, not the file's lines: say which lines were left out.
  if (blank.length) process.stderr.write(`modernbert: --file ${file}: skipped ${blank.length} blank line(s) (line ${blank.slice(0, 10).join(', ')}${blank.length > 10 ? ', ...' : ''}); each output line names its text\n`);
  return lines;
}

/** --out FILE: its folder must exist and be writable before any work (a model load, a long run) is spent. */
function checkOutFile(file: string): void {
  const folder = dirname(resolve(file));
  let isFolder: boolean;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    throw new Error(`--out ${file}: the folder ${folder} does not exist`);
  }
  if (!isFolder) throw new Error(`--out ${file}: ${folder} is not a folder`);
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new Error(`--out ${file}: the folder ${folder} is not writable`);
  }
  if (existsSync(file) && statSync(file).isDirectory()) throw new Error(`--out ${file}: is a folder, not a file`);
}

/** --top-k N: a positive integer. */
export function parseTopK(value: string): number {
  const topK = Number(value);
  if (!(Number.isInteger(topK) && topK >= 1)) throw new Error(`--top-k must be a positive integer, got "${value}"`);
  return topK;
}

function truncation(truncate: boolean): 'truncate' | 'error' {
  return truncate ? 'truncate' : 'error';
}
