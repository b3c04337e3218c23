// `modernbert` command line: parity against a golden case, and what this machine can run.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { PrecisionName, StorageName } from '../evals/parity-check.ts';
import { type AttentionChoice, type GemmChoice, type KernelChoice, kernelChoiceProblem } from '../optimized/webgpu/kernels/tiles.ts';
import type { Backend } from '../tasks/model.ts';
import { runParity } from '../evals/parity.ts';
import { closeSharedDevice, sharedDevice } from '../optimized/webgpu/device.ts';
import { closeGpuJsDevice } from '../optimized/gpujs/mode.ts';
import { presetConfig } from '../reference/config.ts';
import { parseLengths } from '../benchmarks/workloads.ts';
import { machineInfo } from './machine-info.ts';
import { parseMap } from './map-option.ts';
import { closestMatch, explainParseError } from './suggest.ts';
import { MODEL_OPTIONS, modelFolder } from './model-option.ts';

const USAGE = `usage:
  modernbert parity <case-dir> --backend reference|webgpu|gpujs[:webgpu|:webasm|:cpu] [--precision fp32|fp64] [--dtype f32|f16] [--gemm v2|v3|v4|sgmat] [--attention flash_v2|flash_sgmat]
      Runs a golden case (config.json, model.safetensors, io.safetensors) and prints one JSON line:
      {"case", "backend", "precision", "max_abs_err", "tolerance", "pass"}, and for gpujs "mode" (the mode
      that ran) and "fallback" (why auto selection did not get webgpu, or null); with --gemm or --attention,
      those and "emulated" (also where --dtype f16 ran on subgroup matrices by default); with --dtype, "dtype".
      --dtype f16 (webgpu only): f16 storage of weights and activations, f16 tolerances; f32 arithmetic, but
      where the adapter has subgroup matrices: there every GEMM and attention multiplies halves on them
      (sgmat, flash_sgmat) and accumulates in f32.
      --gemm, --attention (webgpu only): every GEMM, every attention on that kernel instead of the tuned or
      default one; sgmat and flash_sgmat (subgroup matrices, f16 products: need --dtype f16) are emulated
      where the device has none ("emulated": true).
      Exit 0: every output within tolerance; 1: one is not; 2: bad input.
  modernbert parity <case-dir> --outputs [NAME=]FILE [--outputs ...] [--map their=ours,...] [--precision fp32|fp64 | --dtype f16|bf16]
      Checks another implementation's outputs against the case instead of running a backend ("backend":
      "outputs"): FILE is safetensors, .npy (one array, named by NAME= or the file's stem), .npz (numpy.savez
      or savez_compressed: member NAME.npy is output NAME) or JSON (an object of nested arrays), with the
      golden names (last_hidden_state, hidden_states, mlm_logits, cls_logits, mean_logits, token_logits,
      start_logits, end_logits); per-token outputs padded [B, L, ...] like input_ids or packed [T, ...]. Only
      the outputs given are compared. --dtype f16|bf16: the implementation computed in float16 / bfloat16;
      its low-precision tolerances (measured on HF: test/fixtures/golden/README.md), and "dtype" in the line.
  modernbert diff <case-dir> (--outputs [NAME=]FILE ... [--map their=ours,...] [--dtype f16|bf16] | --backend B) [--no-catalog] [--json]
      Where an implementation first diverges from the fp64 reference on the case: every stage (embeddings,
      each layer's output from hidden_states, final_norm, the heads) with its max error and tolerance; in the
      first stage over tolerance, each sequence's failing tokens and first failing position; what that
      pattern suggests; and the known porting mistakes (window width, padding mask, f16 RoPE tables, theta,
      Wqkv layout, GLU halves, ...) reproduced by the reference, a MATCH naming the likely cause.
      --json: one object {"case", "source", "stages", "first_divergence", "patterns", "likely_causes",
      "catalog", "pass"}. --dtype f16|bf16: the outputs' low-precision tolerances, as parity's.
      Exit 0: no divergence; 1: a stage diverges; 2: bad input.
  modernbert plan --config base|large|small --lengths 8192x4 --backend webgpu [--ablate padded,materialized] [--dtype f32|f16] [--gemm v2|v3|v4|sgmat]
      Plans a forward pass from the engine's own allocations, running no kernel, and prints one JSON line:
      {"backend", "tokens", "peak_bytes", "weight_bytes", "activation_bytes"}. --gemm sgmat (with --dtype
      f16): the weights packed for the subgroup-matrix GEMM, as a device that has subgroup matrices holds them.
  modernbert profile --config base|large|small --lengths 512x64 [--runs N] [--dtype f32|f16] [--gemm v2|v3|v4|sgmat] [--attention flash_v2|flash_sgmat] [--roofline FILE] [--json]
      Profiles forward passes of a random-weight model on the WebGPU engine: per kernel (name and override
      constants), calls per pass, milliseconds, share of the pass, GFLOP/s, GB/s, % of the adapter's peak
      (when known) and % of its measured roofline (measured first, or read from FILE, the output of
      modernbert roofline --json on this adapter). Timestamp-query where the adapter has it, else wall time per
      dispatch. --json: one JSON object per kernel: {"kernel", "calls", "total_ms", "share", "gflop_s", "gb_s",
      "peak_pct", "roofline_pct", "flops", "bytes", "timer"}.
  modernbert roofline [--runs N] [--json]
      Measures this adapter: f32 and f16 FMA rate, workgroup-memory and global-memory bandwidth, subgroup-matrix
      rate and the cost of an empty dispatch (median of N runs). --json: one object {"adapter", "fma_f32_gflops",
      "fma_f16_gflops", "workgroup_gbps", "global_gbps", "sgmat_gflops", "dispatch_us"} (null: no such feature).
  modernbert tune [--config base,large] [--tokens 512,8192] [--dtype f32,f16] [--space full|reduced] [--runs 5] [--shape-seconds S] [--cache FILE | --table] [--json]
      Times the GEMM tiles and flash-attention tiles on the configs' shapes on this adapter, keeps per shape the
      fastest whose output matches the default kernel's, and merges the choices into the tuning cache (FILE,
      default $MODERNBERT_TUNING or ~/.cache/modernbert-ts/tuning.json) or, with --table, into this adapter's
      committed table (optimized/webgpu/tuned/, or $MODERNBERT_TUNED_TABLES), which the engine reads where the
      cache has no entry. --shape-seconds: a shape's time box (the candidates left are skipped). Prints one line
      per shape (default and chosen tile, their ms); --json: every timing.
  modernbert kernels --stats [--family navi21|aldebaran[,...]] [--defaults] [--filter TEXT] [--json] [--compare FILE] [--write-baseline FILE]
      Compiles every kernel variant the engine can dispatch for ModernBERT base and large (--defaults: those it
      dispatches with no tuning cache) with AMD's compiler on Mesa's RADV, no GPU needed, and prints per kernel:
      kernel, family, default, vgprs, sgprs, spilled_vgprs, spilled_sgprs, scratch_bytes, code_bytes,
      waves_per_simd; --json: one object per kernel with those keys. --compare FILE: exit 1 if a default kernel
      spills, uses scratch or has over 10% more VGPRs than the baseline FILE; --write-baseline FILE writes one.
      (modernbert kernels --list lists the variants; --build builds the C helper and prints its path.)
  modernbert tokenize [--tokenizer DIR] [--pair TEXT] [--max-length N [--truncate]] "text" ...
      Prints the ids of each text as one JSON array per line ([CLS] ... [SEP]; with --pair, [CLS] A [SEP] B [SEP]).
      DIR holds tokenizer.json and tokenizer_config.json (default: the ModernBERT tokenizer bundled here).
      A text over the maximum length (default: model_max_length) is an error unless --truncate.
  modernbert fill-mask --model DIR [--backend B] [--dtype f32|f16] [--top-k 5] [--truncate] "text with [MASK]" ... | --file FILE
      The topK tokens for each text's mask: one JSON array of {token, tokenStr, score, sequence} per line.
  modernbert embed --model DIR [--backend B] [--dtype f32|f16] [--pooling mean|cls] [--prompt TEXT | --prompt-name NAME] [--dimensions N] [--normalize] [--truncate] [--out FILE.jsonl] "text" ... | --file FILE
      One {"text", "embedding"} JSON line per text, to --out (written whole or not at all) or stdout. A
      sentence-transformers folder embeds as SentenceTransformer.encode does (its pooling, Dense, Normalize,
      default prompt) unless --pooling is given; --dimensions truncates (Matryoshka), before --normalize.
  modernbert rerank --model DIR --query TEXT [--backend B] [--top-k N] [--truncate] "document" ... | --file FILE
      A cross-encoder's ranking of the documents for the query, best first: one {"index", "document", "score",
      "logits"} JSON line per document (one output: the folder's activation, by default a sigmoid; two: softmax,
      ranked by the second).
  modernbert token-classify --model DIR [--backend B] [--aggregation none|simple|first|average|max] [--truncate] "text" ... | --file FILE
      Entities of each text as HF's token-classification pipeline: one JSON array per text of {"entity",
      "score", "index", "word", "start", "end"} (none) or {"entity_group", "score", "word", "start", "end"}.
  modernbert classify --model DIR [--backend B] [--dtype f32|f16] [--truncate] "text" ... | --file FILE
      One {"text", "label", "score"} JSON line per text (labels: config.json's id2label).
      B: auto (webgpu on a real GPU, else reference), reference, webgpu, gpujs[:webgpu|:webasm|:cpu].
      --dtype f16 (webgpu only): f16 storage of weights and activations, f32 arithmetic.
      --file: one text per line. A text over the maximum length is an error unless --truncate.
      --model (here and below) also takes a Hugging Face model name, org/name [--revision REV]: read from the
      HF cache (HF_HUB_CACHE, else $HF_HOME/hub), what it lacks downloaded into it (HF_ENDPOINT, HF_TOKEN;
      HF_HUB_OFFLINE=1: the cache only). A local folder of that name wins.
  modernbert example-checkpoint [--kind masked-lm|embedder|reranker|token-classifier] DIR
      Writes a small checkpoint of that kind in the real format (ModernBERT's tokenizer and vocabulary, 3 random
      layers): a masked LM (default), a sentence-transformers embedder, a cross-encoder reranker, or a token
      classifier, for trying every command.
  modernbert info [--json] [--model DIR]
      Versions, the backends available on this machine, and the GPU adapter if any. With --model: what the
      checkpoint folder is (architecture, shape, activations, heads, weights' dtypes and size, tokenizer,
      sentence-transformers modules, pooling and prompts), from its files, without loading the weights.
  modernbert bench [options]
      The benchmark suite (same as npm run bench); modernbert bench --help lists its options.
  modernbert eval parity [--cases DIR] [--backends reference:fp32,reference:fp64,webgpu,gpujs:webasm,...]
      Every golden case on every backend (default: all available here): a table of the max and mean
      absolute error of each output. Exit 0: all within tolerance; 1: one is not.
  modernbert eval fill-mask --model DIR [--backend reference|webgpu|gpujs[:mode]] [--top-k 5] ["text with [MASK]" ...]
      The top predictions for the mask of each text (default: a few plain English sentences).
  modernbert eval embeddings --model DIR [--backend reference|webgpu|gpujs[:mode]]
      Sanity check: paraphrase pairs must embed (mean pooling) closer than unrelated texts. Exit 1 if not.
  modernbert golden make --model DIR (--texts FILE | --lengths 65,9) --out CASE [--seed N] [--weights copy|link]
      Writes a golden case folder (config.json, the weights, io.safetensors, case.json) from a checkpoint folder,
      the expected outputs from the fp64 reference: --texts, one text per line through the folder's tokenizer;
      --lengths, seeded random ids as [CLS] ... [SEP]. --weights link writes weights.json pointing at DIR
      instead of copying the weights. CASE must be absent or empty; it is written whole or not at all.
  modernbert golden make --model DIR --stress --out DIR [--max-tokens N] [--seed N] [--weights copy|link]
      One case per stress shape (1 to 8192 tokens, mixed batches, a 1-token sequence, the window cut on both
      sides; longer than max_position_embeddings or than N tokens in all: skipped), encoder outputs only.
  modernbert crosscheck --model DIR [--backends reference,webgpu,webgpu:f16,gpujs:webasm,...] [--max-tokens N] [--json]
      The stress shapes, built in memory, on every backend (default: all available here) against the fp64
      reference: per shape and backend the max / mean abs error of last_hidden_state and hidden_states, the
      NaN/Inf count, pass. --json: one {"shape", "lengths", "backend", "max_abs_err", "mean_abs_err",
      "tolerance", "non_finite", "pass"} object per row. Exit 0: all pass; 1: one fails; 2: bad input.`;
// The commands and options the usage names: what a mistyped one is compared with.
const COMMANDS = [...new Set([...USAGE.matchAll(/^ {2}modernbert ([a-z-]+)/gm)].map((m) => m[1]))];
const OPTIONS = new Set([...USAGE.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]));

/**
 * Ctrl-C (SIGINT) and SIGTERM end a command with 130 or 143, as a shell reports them, and a one-line note. Files
 * are written whole in one synchronous step (written, then renamed), which a handler cannot interrupt, so an
 * interrupted command leaves its output complete or absent, never partial. For the process entry points only.
 */
export function exitOnSignals(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      process.stderr.write(`modernbert: interrupted (${signal})\n`);
      process.exit(code);
    });
  }
}

/** Runs the CLI; returns the exit code. Output goes to the given streams (stdout, stderr). */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'parity':
        return await parity(rest, out);
      case 'diff':
        return await (await import('./diff.ts')).diffCommand(rest, out);
      case 'info':
        return await info(rest, out);
      case 'tokenize':
        return await tokenize(rest, out);
      case 'fill-mask':
        return await (await import('./tasks.ts')).fillMaskCommand(rest, out);
      case 'embed':
        return await (await import('./tasks.ts')).embedCommand(rest, out);
      case 'classify':
        return await (await import('./tasks.ts')).classifyCommand(rest, out);
      case 'rerank':
        return await (await import('./tasks.ts')).rerankCommand(rest, out);
      case 'token-classify':
        return await (await import('./tasks.ts')).tokenClassifyCommand(rest, out);
      case 'example-checkpoint':
        return await exampleCheckpoint(rest, out);
      case 'plan':
        return await plan(rest, out);
      case 'profile':
        return await profile(rest, out);
      case 'roofline':
        return await (await import('./roofline.ts')).rooflineCommand(rest, out);
      case 'tune':
        return await (await import('./tune.ts')).tuneCommand(rest, out, err);
      case 'kernels':
        return await (await import('./kernels.ts')).kernelsCommand(rest, out, err);
      case 'bench':
        return await (await import('../benchmarks/run.ts')).main(rest);
      case 'eval':
        return await evaluate(rest, out);
      case 'golden':
        return await (await import('./golden.ts')).goldenCommand(rest, out);
      case 'crosscheck':
        return await (await import('./golden.ts')).crosscheckCommand(rest, out, err);
      case 'help':
      case '--help':
      case '-h':
        out(USAGE + '\n');
        return 0;
      case undefined:
        err(`usage: modernbert <command> [options]\ncommands: ${COMMANDS.join(', ')}\n\`modernbert help\` prints every command's options.\n`);
        return 2;
      default: {
        const near = closestMatch(command, COMMANDS);
        err(`modernbert: unknown command "${command}"${near ? `; did you mean "${near}"?` : ''} (\`modernbert help\` lists the commands)\n`);
        return 2;
      }
    }
  } catch (e) {
    // Bad input (a file, a field, an option): one line naming it; a mistyped option with the nearest one.
    err(`modernbert ${command}: ${explainParseError(e, OPTIONS).replace(/\s*\n\s*/g, ' ')}\n`);
    return 2;
  } finally {
    await closeSharedDevice();
    await closeGpuJsDevice();
  }
}

/** --gemm and --attention as given (checked where they are used: kernelChoiceProblem). */
function kernelChoice(values: { gemm?: string; attention?: string }): KernelChoice {
  return { ...(values.gemm !== undefined && { gemm: values.gemm as GemmChoice }), ...(values.attention !== undefined && { attention: values.attention as AttentionChoice }) };
}

async function parity(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { backend: { type: 'string' }, precision: { type: 'string', default: 'fp32' }, dtype: { type: 'string' }, gemm: { type: 'string' }, attention: { type: 'string' }, outputs: { type: 'string', multiple: true }, map: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new Error(`expected one case directory, got ${positionals.length}`);
  const precision = values.precision;
  if (precision !== 'fp32' && precision !== 'fp64') throw new Error(`--precision must be fp32 or fp64, got "${precision}"`);
  if (values.outputs) {
    // Another implementation's outputs, from files, in place of a backend.
    if (values.backend !== undefined) throw new Error('--outputs checks the outputs in the files: --backend does not apply');
    // Here --dtype is what the implementation computed in (a tolerance table), not a backend's storage.
    const dtype = values.dtype;
    if (dtype !== undefined && dtype !== 'f16' && dtype !== 'bf16') throw new Error(`--dtype with --outputs: the dtype the implementation computed in, f16 or bf16 (float32 outputs need no --dtype), got "${dtype}"`);
    const { runParityOnOutputs } = await import('../evals/parity.ts');
    const result = await runParityOnOutputs(positionals[0], values.outputs, parseMap(values.map), precision as PrecisionName, dtype);
    out(JSON.stringify(result) + '\n');
    return result.pass ? 0 : 1;
  }
  if (values.map !== undefined) throw new Error('--map renames the tensors of --outputs files');
  const result = await runParity(positionals[0], values.backend ?? 'reference', precision as PrecisionName, values.dtype === undefined ? undefined : parseDtype(values.dtype), kernelChoice(values));
  out(JSON.stringify(result) + '\n');
  return result.pass ? 0 : 1;
}

async function exampleCheckpoint(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { kind: { type: 'string', default: 'masked-lm' } } });
  if (positionals.length !== 1) throw new Error(`expected one directory, got ${positionals.length}`);
  const { EXAMPLE_KINDS, writeExampleCheckpoint } = await import('../tasks/example.ts');
  const kind = values.kind as (typeof EXAMPLE_KINDS)[number];
  if (!EXAMPLE_KINDS.includes(kind)) throw new Error(`--kind must be one of ${EXAMPLE_KINDS.join(', ')}, got "${values.kind}"`);
  out(`wrote ${positionals[0]} (${writeExampleCheckpoint(positionals[0], 0, kind).join(', ')})\n`);
  return 0;
}

async function tokenize(args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { tokenizer: { type: 'string' }, pair: { type: 'string' }, 'max-length': { type: 'string' }, truncate: { type: 'boolean', default: false } },
  });
  if (positionals.length === 0) throw new Error('expected at least one text to tokenize');
  if (values.pair !== undefined && positionals.length !== 1) throw new Error(`--pair pairs with one text, got ${positionals.length}`);
  const maxLength = values['max-length'] === undefined ? undefined : Number(values['max-length']);
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength >= 2)) throw new Error(`--max-length must be an integer >= 2, got "${values['max-length']}"`);
  const { loadTokenizer } = await import('../reference/files.ts');
  const { BUNDLED_TOKENIZER } = await import('../tasks/example.ts');
  const tokenizer = loadTokenizer(values.tokenizer ?? BUNDLED_TOKENIZER);
  const texts = values.pair === undefined ? positionals : [[positionals[0], values.pair] as const];
  // every text is encoded before anything is printed: an error leaves no partial output
  const ids = tokenizer.encodeBatch(texts, { maxLength, truncation: values.truncate ? 'truncate' : 'error' });
  out(ids.map((x) => JSON.stringify(x)).join('\n') + '\n');
  return 0;
}

async function plan(args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', default: 'base' }, lengths: { type: 'string' }, backend: { type: 'string', default: 'webgpu' }, ablate: { type: 'string', default: '' }, dtype: { type: 'string', default: 'f32' }, gemm: { type: 'string' } },
  });
  if (values.backend !== 'webgpu') throw new Error(`--backend: only webgpu plans its memory, got "${values.backend}"`);
  if (!values.lengths) throw new Error('--lengths is required (LENxCOUNT items separated by commas, e.g. 8192x4)');
  const ablations = values.ablate.split(',').filter(Boolean);
  for (const a of ablations) if (a !== 'padded' && a !== 'materialized') throw new Error(`--ablate: unknown ablation "${a}" (padded, materialized)`);
  const { planMemory } = await import('../optimized/webgpu/modernbert.ts');
  const dtype = parseDtype(values.dtype);
  const kernels = kernelChoice({ gemm: values.gemm });
  const problem = kernelChoiceProblem(kernels, dtype);
  if (problem) throw new Error(`--gemm: ${problem}`);
  const plan = await planMemory(presetConfig(values.config), parseLengths(values.lengths), { padded: ablations.includes('padded'), materialized: ablations.includes('materialized') }, dtype, kernels);
  // The contract's keys only, in this order.
  const { tokens, peak_bytes, weight_bytes, activation_bytes } = plan;
  out(JSON.stringify({ backend: 'webgpu', ...(ablations.length ? { ablate: ablations } : {}), ...(dtype === 'f16' ? { dtype } : {}), tokens, peak_bytes, weight_bytes, activation_bytes }) + '\n');
  return 0;
}

function parseDtype(value: string): StorageName {
  if (value !== 'f32' && value !== 'f16') throw new Error(`--dtype must be f32 or f16, got "${value}"`);
  return value;
}

async function profile(args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', default: 'base' }, lengths: { type: 'string' }, runs: { type: 'string', default: '3' }, dtype: { type: 'string', default: 'f32' }, gemm: { type: 'string' }, attention: { type: 'string' }, roofline: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const config = presetConfig(values.config);
  const dtype = parseDtype(values.dtype);
  if (!values.lengths) throw new Error('--lengths is required (LENxCOUNT items separated by commas, e.g. 512x64)');
  const lengths = parseLengths(values.lengths);
  const runs = Number(values.runs);
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
  const { profileModel, formatProfile } = await import('../optimized/webgpu/profile.ts');
  const { adapterName, measureRoofline, parseRoofline } = await import('../optimized/webgpu/roofline.ts');
  const { randomSequences } = await import('../benchmarks/workloads.ts');
  const saved = values.roofline === undefined ? null : parseRoofline(readFileSync(values.roofline, 'utf8'), `--roofline ${values.roofline}`);
  const ctx = await sharedDevice();
  if (saved && saved.adapter !== adapterName(ctx.adapter)) throw new Error(`--roofline ${values.roofline} was measured on "${saved.adapter}", not on this adapter ("${adapterName(ctx.adapter)}")`);
  const roofline = saved ?? (await measureRoofline(ctx)).roofline;
  const { loadTuning } = await import('../optimized/webgpu/tuning-cache.ts');
  const kernels = kernelChoice(values);
  const problem = kernelChoiceProblem(kernels, dtype);
  if (problem) throw new Error(`--${problem.replace('dtype f16', '--dtype f16')}`);
  const report = await profileModel(ctx, values.config, config, randomSequences(lengths, config.vocabSize, 42), { runs, dtype, roofline, tuning: (await loadTuning(ctx.adapter)).tuning, kernels });
  out(values.json ? report.rows.map((r) => JSON.stringify(r) + '\n').join('') : formatProfile(report));
  return 0;
}

async function evaluate(args: string[], out: (s: string) => void): Promise<number> {
  const [what, ...rest] = args;
  if (what === 'fill-mask' || what === 'embeddings') return evaluateCheckpoint(what, rest, out);
  if (what !== 'parity') throw new Error(`unknown evaluation "${what ?? ''}" (available: parity, fill-mask, embeddings)`);
  const { values } = parseArgs({ args: rest, options: { cases: { type: 'string', default: GOLDEN_DIR }, backends: { type: 'string' } } });
  const { evalParity, evalTable, goldenCases } = await import('../evals/eval-parity.ts');
  const cases = goldenCases(values.cases);
  if (cases.length === 0) throw new Error(`--cases: ${values.cases} holds no golden case folders (each with io.safetensors)`);
  let names = values.backends?.split(',') ?? ['reference:fp32', 'reference:fp64', 'webgpu', 'gpujs:webgpu', 'gpujs:webasm', 'gpujs:cpu'];
  if (!values.backends) {
    const available = new Set((await machineInfo()).backends.filter((b) => b.available).map((b) => b.name));
    names = names.filter((n) => available.has(n.replace(/:fp(32|64)$/, '')));
  }
  // NAME or NAME:PRECISION, where NAME may itself hold a mode (gpujs:webasm).
  const backends = names.map((n) => {
    const [, backend, precision = 'fp32'] = /^(.+?)(?::(fp32|fp64))?$/.exec(n)!;
    return { backend, precision: precision as PrecisionName };
  });
  const rows = await evalParity(cases, backends);
  out(evalTable(rows));
  return rows.every((r) => r.pass) ? 0 : 1;
}

/** fill-mask / embeddings on a checkpoint folder with its tokenizer. */
async function evaluateCheckpoint(what: 'fill-mask' | 'embeddings', args: string[], out: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...MODEL_OPTIONS, backend: { type: 'string', default: 'reference' }, 'top-k': { type: 'string', default: '5' } } });
  if (!values.model) throw new Error('--model DIR is required (config.json, model.safetensors, tokenizer.json, tokenizer_config.json), or a Hugging Face model name (org/name)');
  const { BACKENDS } = await import('../tasks/model.ts');
  if (!BACKENDS.includes(values.backend as Backend)) throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got "${values.backend}"`);
  const topK = (await import('./tasks.ts')).parseTopK(values['top-k']);
  const { loadCheckpoint, loadTokenizer } = await import('../reference/files.ts');
  const { fp32 } = await import('../reference/ops.ts');
  const evals = await import('../evals/fill-mask.ts');
  const dir = await modelFolder(values.model, values.revision);
  const tokenizer = loadTokenizer(dir);
  const checkpoint = loadCheckpoint(dir, fp32);
  if (what === 'fill-mask') {
    const texts = positionals.length ? positionals : evals.FILL_MASK_PROMPTS;
    const predictions = await evals.fillMask(checkpoint, tokenizer, texts, { topK, backend: values.backend as Backend });
    texts.forEach((text, i) => {
      out(`${text}\n`);
      for (const p of predictions[i]) out(`  ${p.score.toFixed(4)}  ${JSON.stringify(p.tokenStr)} (${p.token})  ${p.sequence}\n`);
    });
    return 0;
  }
  const check = await evals.checkEmbeddings(checkpoint, tokenizer, evals.EMBEDDING_PAIRS, values.backend as Backend);
  evals.EMBEDDING_PAIRS.forEach(([a, b], i) => out(`${check.paraphrase[i].toFixed(4)}  "${a}" ~ "${b}"\n`));
  out(`${check.unrelatedMean.toFixed(4)}  mean over unrelated texts\n${check.pass ? 'pass: every paraphrase pair is closer than the unrelated mean' : 'FAIL: a paraphrase pair is not closer than the unrelated mean'}\n`);
  return check.pass ? 0 : 1;
}

// The golden cases shipped with the project.
const GOLDEN_DIR = fileURLToPath(new URL('../test/fixtures/golden', import.meta.url));

async function info(args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false }, ...MODEL_OPTIONS } });
  if (values.revision !== undefined && values.model === undefined) throw new Error('--revision goes with --model org/name');
  if (values.model !== undefined) {
    const { describeModelFolder, formatModelFolder } = await import('../tasks/describe.ts');
    const folder = describeModelFolder(await modelFolder(values.model, values.revision));
    out(values.json ? JSON.stringify(folder) + '\n' : formatModelFolder(folder));
    return 0;
  }
  const m = await machineInfo();
  if (values.json) {
    out(JSON.stringify(m) + '\n');
    return 0;
  }
  out(`modernbert-ts ${m.modernbert}\nnode ${m.node} on ${m.platform}, ${m.cores} x ${m.cpu}\n`);
  out(`GPU adapter: ${m.gpuAdapter ?? 'none found'}\nbackends:\n`);
  for (const b of m.backends) out(`  ${b.available ? '+' : '-'} ${b.name.padEnd(13)} ${b.detail}\n`);
  if (m.subgroupMatrix) out(`subgroup matrices (tensor cores): ${m.subgroupMatrix.available ? 'available' : 'unavailable'}: ${m.subgroupMatrix.detail}\n`);
  return 0;
}
