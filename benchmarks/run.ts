// `npm run bench` (also `modernbert bench`): the benchmark suite sized to the machine, its table, and its
// report folder (results.csv, summary.md, SVG plots). With a GPU adapter it runs the paper's four workloads
// for ModernBERT-base on WebGPU; without one, a small config on short workloads on the reference. The peers
// (transformers.js on ONNX Runtime always, PyTorch where Python has torch) run in the same command on the same
// weights and token ids, and a table gives each backend relative to the ONNX Runtime peer.
// Every stage runs in its own child process; rows stream back as JSON lines.
//
// Regression gate (benchmarks/gate.ts): `--compare baseline.csv` (repeatable: repeat runs of one commit) or
// `--calibration calibration.json` (from `--calibrate N`) fails (exit 1) when a row is slower than its baseline
// by more than max(--max-slowdown, --noise-k x its measured noise) and --min-delta-ms, after re-measuring it.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MultiBar, Presets } from 'cli-progress';
import { median } from 'mathjs';
import { presetConfig } from '../reference/config.ts';
import { randomTensors } from '../reference/checkpoint.ts';
import { saveCheckpoint } from '../reference/files.ts';
import { tableToMarkdown } from '../reports/tables.ts';
import { runTables, writeRunReport } from '../reports/run-report.ts';
import { PROJECT_ROOT, commonFields, cpuModel, deviceSlug } from './environment.ts';
import { type PeerName, runPeers } from './peers/index.ts';
import { type Baseline, type GateRule, baselineFromCsvFiles, loadCalibration, rowKey, runGate, writeCalibration } from './gate.ts';
import type { ResultRow } from './results.ts';
import { MODEL_BACKENDS, type ModelBackend, type StageSpec, runStage } from './stages.ts';
import { type Workload, parseWorkload, randomSequences } from './workloads.ts';

const SUITES = {
  // No GPU: under five minutes on 2 cores with the peers (4 min 38 s measured without Python, 4 min 30 s with torch).
  cpu: { config: 'small', workloads: ['fixed_short:2', 'variable_short:4'], backends: ['reference:fp32', 'reference:fp64', 'gpujs:webasm', 'gpujs:cpu'], kernels: false, runs: 3, warmup: 1 },
  // The paper's four workloads, about 32k real tokens per batch each.
  gpu: { config: 'base', workloads: ['fixed_short:64', 'variable_short:128', 'fixed_long:4', 'variable_long:8'], backends: ['webgpu', 'webgpu:f16', 'webgpu:sgmat', 'webgpu:padded', 'webgpu:materialized', 'gpujs:webgpu'], kernels: true, runs: 5, warmup: 2 },
} as const;
const GIB = 2 ** 30;

export interface BenchOptions {
  suite: 'cpu' | 'gpu';
  config: string;
  workloads: Workload[];
  backends: ModelBackend[];
  peers: PeerName[];
  kernels: boolean;
  maxBatch: 'yes' | 'no' | 'verify';
  runs: number;
  warmup: number;
  seed: number;
  memoryLimit: number;
  out: string | null;
  compare: string[];
  calibration: string | null;
  baseline: Baseline | null; // read from --compare or --calibration while parsing, so a bad file fails first
  calibrate: number; // runs of the suite for calibration.json; 1: none
  gate: GateRule;
  slowdown: Record<string, number>;
}

const HELP = `usage: npm run bench -- [options]   (or: modernbert bench [options])
  --suite auto|cpu|gpu     auto: gpu when WebGPU finds a GPU (not SwiftShader), else cpu
  --config small|base|large
  --workload SPEC          repeatable: fixed_short:N, variable_short:N, fixed_long:N, variable_long:N (the
                           paper's sets, first N documents) or LENxCOUNT,... (e.g. 512x8,128x4)
  --backends LIST          ${MODEL_BACKENDS.join(',')}
  --peers LIST|none        torch,transformersjs (default both; torch needs Python with torch and skips with
                           a reason without it; transformersjs, ONNX Runtime, needs no Python)
  --kernels yes|no         WebGPU kernel benchmarks at the model's shapes (default: yes on a GPU)
  --max-batch yes|no|verify  the largest batch that fits, from the engine's allocation plan (default yes);
                           verify also runs that batch once on the device
  --memory-limit GIB       memory the max-batch plan must fit (default 24, the paper's RTX 4090)
  --runs N --warmup N --seed N
  --out DIR                report folder (default reports/<date>-<device>)
  --compare CSV            regression gate against a baseline results.csv; repeatable: repeat runs of the
                           baseline commit (their spread is the rows' noise)
  --calibration FILE       regression gate against a calibration.json (instead of --compare)
  --calibrate N            run the suite N times (N >= 2) and write calibration.json to the report folder
  --max-slowdown PCT       the gate fails a row whose median is slower than its baseline by more than
  --noise-k K              max(PCT, K x noise) percent and by more than MS milliseconds (defaults 10, 1,
  --min-delta-ms MS        0.05); noise: the larger of the spread across baseline runs and within a run
  --inject-slowdown NAME=F test hook for the gate: repeat the timed work of row NAME F times`;

function fail(message: string): never {
  throw new BenchUsageError(message);
}
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

/** Parses the command line; `gpu` says whether a real GPU adapter exists (for --suite auto). */
export function parseBenchArgs(args: string[], gpu: boolean): BenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      suite: { type: 'string', default: 'auto' },
      config: { type: 'string' },
      workload: { type: 'string', multiple: true },
      backends: { type: 'string' },
      peers: { type: 'string', default: 'torch,transformersjs' },
      kernels: { type: 'string' },
      'max-batch': { type: 'string', default: 'yes' },
      'memory-limit': { type: 'string', default: '24' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      seed: { type: 'string', default: '42' },
      out: { type: 'string' },
      compare: { type: 'string', multiple: true },
      calibration: { type: 'string' },
      calibrate: { type: 'string' },
      'max-slowdown': { type: 'string', default: '10' },
      'noise-k': { type: 'string', default: '1' },
      'min-delta-ms': { type: 'string', default: '0.05' },
      'inject-slowdown': { type: 'string', multiple: true },
    },
  });
  const suiteName = values.suite === 'auto' ? (gpu ? 'gpu' : 'cpu') : values.suite;
  if (suiteName !== 'cpu' && suiteName !== 'gpu') fail(`--suite must be auto, cpu or gpu, got "${values.suite}"`);
  const suite = SUITES[suiteName];
  const int = (name: string, v: string | undefined, fallback: number, min: number) => {
    const n = Number(v ?? fallback);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  const yesNo = (name: string, v: string | undefined, fallback: boolean) => {
    if (v === undefined) return fallback;
    if (v !== 'yes' && v !== 'no') fail(`--${name} must be yes or no, got "${v}"`);
    return v === 'yes';
  };
  const oneOf = <T extends string>(name: string, v: string, allowed: readonly T[]): T => {
    if (!allowed.includes(v as T)) fail(`--${name} must be ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };
  const config = values.config ?? suite.config;
  presetConfig(config); // unknown names fail here, listing the presets
  const seed = int('seed', values.seed, 42, 0);
  const workloads = (values.workload ?? suite.workloads).map((w) => {
    try {
      return parseWorkload(w, seed);
    } catch (e) {
      return fail(`--workload: ${(e as Error).message}`);
    }
  });
  const backends = (values.backends?.split(',') ?? [...suite.backends]).filter(Boolean);
  for (const b of backends) if (!MODEL_BACKENDS.includes(b as ModelBackend)) fail(`--backends: unknown backend "${b}" (available: ${MODEL_BACKENDS.join(', ')})`);
  const peers = values.peers === 'none' ? [] : values.peers.split(',').filter(Boolean);
  for (const p of peers) if (p !== 'torch' && p !== 'transformersjs') fail(`--peers: unknown peer "${p}" (torch, transformersjs, or none)`);
  const memoryLimitGib = Number(values['memory-limit']);
  if (!(memoryLimitGib > 0)) fail(`--memory-limit must be a positive number of GiB, got "${values['memory-limit']}"`);
  const nonNegative = (name: string, what: string, v: string) => {
    const n = Number(v);
    if (!(n >= 0) || v.trim() === '') fail(`--${name} must be a non-negative ${what}, got "${v}"`);
    return n;
  };
  const gate: GateRule = {
    maxSlowdownPct: nonNegative('max-slowdown', 'percentage', values['max-slowdown']),
    noiseK: nonNegative('noise-k', 'number', values['noise-k']),
    minDeltaS: nonNegative('min-delta-ms', 'number of milliseconds', values['min-delta-ms']) / 1000,
  };
  const compare = values.compare ?? [];
  for (const file of compare) if (!existsSync(file)) fail(`--compare: ${file}: file not found`);
  if (values.calibration && !existsSync(values.calibration)) fail(`--calibration: ${values.calibration}: file not found`);
  if (values.calibration && compare.length) fail('--calibration and --compare are two baselines: give one');
  const calibrate = values.calibrate === undefined ? 1 : int('calibrate', values.calibrate, 2, 2); // one run has no spread across runs
  if (calibrate > 1 && (compare.length || values.calibration)) fail('--calibrate measures a baseline: it does not take --compare or --calibration');
  let baseline: Baseline | null = null;
  try {
    if (compare.length) baseline = baselineFromCsvFiles(compare);
    if (values.calibration) baseline = loadCalibration(values.calibration);
  } catch (e) {
    fail(`${values.calibration ? '--calibration' : '--compare'}: ${(e as Error).message}`);
  }
  const slowdown: Record<string, number> = {};
  for (const item of values['inject-slowdown'] ?? []) {
    const m = /^([\w.:-]+)=(\d+(?:\.\d+)?)$/.exec(item);
    if (!m) fail(`--inject-slowdown: "${item}" is not NAME=FACTOR`);
    slowdown[m[1]] = Number(m[2]);
  }
  return {
    suite: suiteName,
    config,
    workloads,
    backends: backends as ModelBackend[],
    peers: peers as PeerName[],
    kernels: yesNo('kernels', values.kernels, suite.kernels),
    maxBatch: oneOf('max-batch', values['max-batch'], ['yes', 'no', 'verify'] as const),
    runs: int('runs', values.runs, suite.runs, 1),
    warmup: int('warmup', values.warmup, suite.warmup, 0),
    seed,
    memoryLimit: memoryLimitGib * GIB,
    out: values.out ?? null,
    compare,
    calibration: values.calibration ?? null,
    baseline,
    calibrate,
    gate,
    slowdown,
  };
}

interface Adapter {
  name: string;
  swiftshader: boolean;
  maxBinding: number;
  /** the Vulkan ICD the device came from when one was named (SwiftShader's where Linux shows no GPU), else null */
  icd: string | null;
}

/** The WebGPU adapter, probed in a child (the parent holds no device), or why there is none. */
async function probeAdapter(): Promise<Adapter | { error: string }> {
  const lines: string[] = [];
  const code = await child(['--probe'], (line) => lines.push(line), () => {});
  const last = lines.at(-1);
  if (code !== 0 || !last) return { error: 'no WebGPU adapter' };
  return JSON.parse(last) as Adapter | { error: string };
}

// The stage children running now: an interrupted run stops them.
const liveChildren = new Set<ChildProcess>();

/** Runs this file in a child process; calls onLine for each stdout line. Returns the exit code. */
function child(args: string[], onLine: (line: string) => void, onStderr: (text: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(proc);
    proc.on('exit', () => liveChildren.delete(proc));
    createInterface({ input: proc.stdout }).on('line', onLine);
    proc.stderr.setEncoding('utf8').on('data', onStderr);
    proc.on('error', reject);
    proc.on('close', (code) => resolve(code ?? 1));
  });
}

// Dawn's and Vulkan's start-up chatter on stderr: not worth a reader's attention.
const NOISE = /XDG_RUNTIME_DIR|shaderUniform\*ArrayDynamicIndexing|While initializing adapter|at InitializeImpl|^\s*$/;

/** One stage in a child process: its rows, with progress shown on the bar. A failed stage throws with its stderr. */
async function runStageInChild(spec: StageSpec, label: string, bars: Progress, notes: string[] = []): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  let stderr = '';
  const bar = bars.start(label);
  const code = await child(['--stage', JSON.stringify(spec)], (line) => {
    if (!line.startsWith('{')) return; // a library's stray output, not an event
    const event = JSON.parse(line) as { row?: ResultRow; progress?: string; note?: string };
    if (event.row) rows.push(event.row);
    if (event.progress) bar.step(event.progress);
    if (event.note) notes.push(event.note);
  }, (text) => (stderr += text));
  bar.done(rows.length);
  const messages = stderr.split('\n').filter((l) => !NOISE.test(l));
  for (const m of messages.filter((l) => /SwiftShader/.test(l))) bars.log(m);
  if (code !== 0) throw new Error(`${label}: the stage failed (exit ${code}): ${messages.slice(-8).join(' | ')}`);
  return rows;
}

/** Progress bars on a terminal; one line per step otherwise (CI logs). */
class Progress {
  private readonly multi: MultiBar | null;
  constructor(tty: boolean) {
    this.multi = tty ? new MultiBar({ format: '{stage} [{bar}] {value} rows  {step}', hideCursor: true, clearOnComplete: false, stopOnComplete: false }, Presets.shades_classic) : null;
  }
  start(stage: string): { step(message: string): void; done(rows: number): void } {
    const bar = this.multi?.create(1, 0, { stage: stage.padEnd(24), step: '' });
    let rows = 0;
    return {
      step: (message) => {
        if (bar) {
          bar.setTotal(rows + 1);
          bar.update(rows, { step: message });
          rows++;
        } else process.stderr.write(`  ${stage}: ${message}\n`);
      },
      done: (n) => {
        if (bar) {
          bar.setTotal(Math.max(n, 1));
          bar.update(n, { step: 'done' });
        } else process.stderr.write(`  ${stage}: done, ${n} rows\n`);
      },
    };
  }
  log(message: string): void {
    if (this.multi) this.multi.log(message + '\n');
    else process.stderr.write(message + '\n');
  }
  stop(): void {
    this.multi?.stop();
  }
}

export async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  // The adapter decides --suite auto, and WebGPU stages need it; a run that needs neither skips the probe.
  const explicitSuite = args.some((a, i) => a.startsWith('--suite=') ? a !== '--suite=auto' : a === '--suite' && args[i + 1] !== 'auto');
  let probe = explicitSuite ? null : await probeAdapter();
  const realGpu = (p: typeof probe) => (p && !('error' in p) && !p.swiftshader ? p : null);
  const options = parseBenchArgs(args, realGpu(probe) !== null);
  const webgpuWanted = options.backends.some((b) => b.startsWith('webgpu')) || options.kernels || options.maxBatch === 'verify';
  const webgpuPeer = options.suite === 'gpu' && options.peers.includes('transformersjs');
  if (!probe && (webgpuWanted || webgpuPeer || options.maxBatch !== 'no')) probe = await probeAdapter();
  const adapter = probe && !('error' in probe) ? probe : null;
  const gpu = realGpu(probe);
  const started = new Date();
  const device = deviceSlug(gpu?.name ?? null);
  const common = { ...commonFields(device, started.toISOString()), adapter: cpuModel() };
  if (webgpuWanted && !adapter) fail(`the webgpu backend needs a WebGPU adapter: ${probe && 'error' in probe ? probe.error : ''}`);

  process.stderr.write(`modernbert bench: suite ${options.suite}, config ${options.config}, device ${device}${adapter ? ` (WebGPU adapter: ${adapter.name})` : ''}\n`);
  const bars = new Progress(process.stderr.isTTY === true);
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  // The run's random weights, saved once as an HF folder: every model stage and peer loads them from there.
  const checkpointDir = mkdtempSync(join(tmpdir(), 'modernbert-bench-model-'));
  // Ctrl-C or SIGTERM mid-run: the stages still running stop, and the run's model folder (tens of MB) goes too.
  const onSignal = (signal: NodeJS.Signals) => {
    for (const c of liveChildren) c.kill('SIGTERM');
    rmSync(checkpointDir, { recursive: true, force: true });
    process.stderr.write(`\nmodernbert bench: interrupted (${signal}); removed ${checkpointDir}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const config = presetConfig(options.config);
  if (options.backends.length || options.peers.length) saveCheckpoint(checkpointDir, config, randomTensors(config, options.seed));
  const spec = (stage: StageSpec['stage'], extra: Partial<StageSpec> = {}): StageSpec => ({
    stage,
    checkpointDir,
    config: options.config,
    workloads: options.workloads,
    runs: options.runs,
    warmup: options.warmup,
    seed: options.seed,
    slowdown: options.slowdown,
    common,
    ...extra,
  });
  let gate = 0;
  try {
    for (const backend of options.backends) rows.push(...(await runStageInChild(spec('model', { backend }), backend, bars, notes)));
    if (options.kernels) rows.push(...(await runStageInChild(spec('kernels'), 'webgpu kernels', bars, notes)));
    if (options.maxBatch !== 'no') {
      const verify = options.maxBatch === 'verify';
      // The plan is the engine's; its binding limit is the adapter's (2 GiB when there is none).
      const planCommon = { ...common, adapter: adapter?.name ?? `${common.adapter} (no WebGPU adapter)` };
      rows.push(...(await runStageInChild(spec('max_batch', { memoryLimit: options.memoryLimit, bindingLimit: adapter?.maxBinding ?? 2 * GIB, verify, common: planCommon }), 'max batch', bars, notes)));
    }
    if (options.peers.length) {
      const peers = await runPeersOnSameModel(options, checkpointDir, common, adapter, bars);
      rows.push(...peers.rows);
      notes.push(...peers.skipped.map((n) => `peer skipped: ${n}`));
    }
    if (options.baseline) gate = await runGate(options.baseline, rows, options.gate, (row) => remeasure(row, spec, bars), (line) => bars.log(line));
  } finally {
    bars.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(checkpointDir, { recursive: true, force: true });
  }

  const out = options.out ?? uniqueDir(join(PROJECT_ROOT, 'reports', `${started.toISOString().slice(0, 10)}-${device}`));
  writeRunReport(out, rows, { title: `modernbert-ts benchmark: ${device}`, command: `npm run bench -- ${args.join(' ')}`.trim(), notes });
  for (const table of runTables(rows)) process.stdout.write(tableToMarkdown(table) + '\n\n');
  for (const n of notes) process.stdout.write(n + '\n');
  process.stdout.write(`wrote ${relative(process.cwd(), out) || '.'}/ (${readdirSync(out).sort().join(', ')})\n`);
  if (options.calibrate > 1) {
    const once = args.filter((a, i) => a !== '--calibrate' && !a.startsWith('--calibrate=') && args[i - 1] !== '--calibrate');
    await writeCalibration(out, options.calibrate, (dir) => main([...once, '--out', dir]), (line) => process.stderr.write(line + '\n'));
  }
  return gate;
}

function uniqueDir(base: string): string {
  let dir = base;
  for (let i = 2; existsSync(dir); i++) dir = `${base}-${i}`;
  return dir;
}

/** The peers load the same weights as our backends (the run's checkpoint folder) and get the same token ids. */
async function runPeersOnSameModel(options: BenchOptions, checkpointDir: string, common: Partial<ResultRow>, adapter: Adapter | null, bars: Progress): Promise<{ rows: ResultRow[]; skipped: string[] }> {
  const config = presetConfig(options.config);
  const bar = bars.start('peers');
  const result = await runPeers({
    checkpointDir,
    workloads: options.workloads.map((w) => ({ name: w.name, sequences: randomSequences(w.lengths, config.vocabSize, options.seed) })),
    runs: options.runs,
    warmup: options.warmup,
    device: options.suite === 'gpu' ? 'cuda' : 'cpu',
    // DESIGN §5: half precision too on a GPU.
    dtypes: options.suite === 'gpu' ? ['fp32', 'fp16', 'bf16'] : ['fp32'],
    webgpu: adapter ? { adapter: adapter.name, icd: adapter.icd } : undefined,
    common: { ...common, config: options.config },
    peers: options.peers,
    onProgress: (m) => bar.step(m),
  });
  bar.done(result.rows.length);
  return result;
}

/** The median of one row measured again in a fresh child, or null when the row cannot be re-run here (a peer). */
async function remeasure(row: ResultRow, spec: (stage: StageSpec['stage'], extra?: Partial<StageSpec>) => StageSpec, bars: Progress): Promise<number | null> {
  const name = String(row.name);
  let stageSpec: StageSpec;
  if (row.kind === 'kernel') stageSpec = spec('kernels', { only: [name] });
  else if (row.backend === 'reference' || row.backend === 'webgpu' || String(row.backend).startsWith('gpujs')) {
    const backend = (row.backend === 'reference' ? `reference:${row.dtype}` : row.backend === 'webgpu' ? (row.variant === 'sgmat' ? 'webgpu:sgmat' : row.dtype === 'fp16' ? 'webgpu:f16' : row.variant === 'flash' ? 'webgpu' : `webgpu:${row.variant}`) : row.variant === 'auto' ? 'gpujs' : row.backend) as ModelBackend;
    stageSpec = spec('model', { backend, only: [name] });
  } else return null;
  const again = (await runStageInChild(stageSpec, `re-measure ${name}`, bars)).filter((r) => rowKey(r) === rowKey(row));
  return again.length ? Number(median(again.map((r) => Number(r.median_s)))) : null;
}

// Child modes: --probe (adapter facts as one JSON line) and --stage SPEC (rows as JSON lines).
async function childMain(args: string[]): Promise<void> {
  if (args[0] === '--probe') {
    const { sharedDevice, closeSharedDevice } = await import('../optimized/webgpu/device.ts');
    const { adapterName } = await import('./adapter.ts');
    try {
      const ctx = await sharedDevice();
      const probed: Adapter = { name: adapterName(ctx), swiftshader: ctx.swiftshader, maxBinding: ctx.device.limits.maxStorageBufferBindingSize, icd: process.env.VK_ICD_FILENAMES ?? null };
      process.stdout.write(JSON.stringify(probed) + '\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ error: (e as Error).message }) + '\n');
    } finally {
      await closeSharedDevice();
    }
    return;
  }
  await runStage(JSON.parse(args[1]) as StageSpec, (event) => process.stdout.write(JSON.stringify(event) + '\n'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--probe' || args[0] === '--stage') {
    await childMain(args);
  } else {
    try {
      process.exitCode = await main(args);
    } catch (e) {
      process.stderr.write(`${e instanceof BenchUsageError ? '' : 'modernbert bench: '}${(e as Error).message}\n`);
      process.exitCode = 2;
    }
  }
}
