// The benchmark peers (DESIGN §5), as the harness calls them: PyTorch + HF transformers (torch_peer.py, in
// Python) and transformers.js on ONNX Runtime (transformersjs.ts, on the ONNX graph onnx-export.ts writes from
// TypeScript), each in a child process, on the same checkpoint and token ids as our backends. Only the torch
// peer needs Python, so every machine has the ONNX Runtime peer to compare with. A peer that cannot run is a
// one-line reason in `skipped`, never an exception.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModernBertConfig } from '../../reference/config.ts';
import { loadConfig } from '../../reference/files.ts';
import { BUNDLED, PROJECT_ROOT } from '../environment.ts';
import { RESULT_COLUMNS, type ResultRow, resultRow } from '../results.ts';

export type PeerName = 'torch' | 'transformersjs';
export const PEERS: readonly PeerName[] = ['torch', 'transformersjs'];

export interface PeerRun {
  /** config.json + model.safetensors (saveCheckpoint), the weights every backend runs */
  checkpointDir: string;
  workloads: { name: string; sequences: Int32Array[] | number[][] }[];
  runs: number;
  warmup: number;
  /** cuda: torch on the GPU, transformers.js on ONNX Runtime's WebGPU execution provider */
  device: 'cpu' | 'cuda';
  /** torch: fp32 (default), fp16 and bf16 on cuda; transformers.js: those of fp32 and fp16 (its graphs) */
  dtypes?: string[];
  /** the WebGPU adapter our engine found, and the Vulkan ICD it used (SwiftShader's where there is no GPU), which the
   *  transformers.js peer gets too on cuda: its rows name the adapter, and its Dawn looks where ours found one */
  webgpu?: { adapter: string; icd: string | null };
  /** torch attention implementations, default sdpa and eager */
  impls?: string[];
  /** columns every row carries: date, commit, device, config, ... */
  common: Partial<ResultRow>;
  peers: PeerName[];
  onProgress?: (message: string) => void;
  /** the Python interpreter of the torch peer; default findPython() */
  python?: string;
}

export interface PeerResult {
  rows: ResultRow[];
  /** one line per peer that did not run or did not finish, e.g. "torch: python3 cannot import torch (...)" */
  skipped: string[];
}

// PROJECT_ROOT comes from benchmarks/environment.ts, which sits in benchmarks/ as does bench.bundle.mjs.
const PEERS_DIR = join(PROJECT_ROOT, 'benchmarks', 'peers');
const TORCH_PEER = join(PEERS_DIR, 'torch_peer.py');
// On a GPU machine the harness is a bundle, and so is this peer (prepare.ts): there is no TypeScript loader there.
const TRANSFORMERSJS_PEER = BUNDLED ? [join(PEERS_DIR, 'transformersjs.bundle.mjs')] : ['--import', join(PROJECT_ROOT, 'bin', 'register.js'), join(PEERS_DIR, 'transformersjs.ts')];

/**
 * glibc malloc for the torch peer: no mmap, no trim, so freed memory is reused. PyTorch on CPU allocates
 * every large intermediate afresh; with glibc's defaults each one above 32 MiB is a new mmap whose pages fault
 * in on first touch, which on a VM (measured on the 2-core dev machine) made the same forward pass 1x-8x
 * slower from one run to the next (eager attention most). ONNX Runtime reuses an arena and is unaffected.
 * A GLIBC_TUNABLES already in the environment wins; torch_peer.py names the setting in each row's note.
 */
const TORCH_MALLOC_TUNABLES = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=100000000000';

/** MODERNBERT_PYTHON, else the project's .venv/bin/python when it exists, else python3 from PATH. */
export function findPython(): string {
  const fromEnv = process.env.MODERNBERT_PYTHON;
  if (fromEnv) return fromEnv;
  const venv = join(PROJECT_ROOT, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

export async function runPeers(run: PeerRun): Promise<PeerResult> {
  const progress = run.onProgress ?? (() => {});
  const python = run.python ?? findPython();
  const rows: ResultRow[] = [];
  const skipped: string[] = [];
  const wanted = PEERS.filter((p) => run.peers.includes(p));
  if (wanted.length === 0) return { rows, skipped };

  const work = mkdtempSync(join(tmpdir(), 'modernbert-peers-'));
  try {
    const workloadsFile = join(work, 'workloads.json');
    const workloads = run.workloads.map((w) => ({ name: w.name, sequences: w.sequences.map((s) => Array.from(s)) }));
    writeFileSync(workloadsFile, JSON.stringify({ workloads }));
    const budget = workBudget(run);
    const common = JSON.stringify(run.common);
    const timing = ['--runs', String(run.runs), '--warmup', String(run.warmup), '--common', common];

    if (wanted.includes('torch')) {
      const problem = await checkTorch(python, progress);
      if (problem) skipped.push(`torch: ${problem}`);
      else {
        const impls = run.impls ?? ['sdpa', 'eager'];
        const dtypes = run.dtypes ?? ['fp32'];
        const loads = impls.length * dtypes.length;
        const args = [TORCH_PEER, '--checkpoint', run.checkpointDir, '--workloads', workloadsFile, '--impl', impls.join(','), '--dtype', dtypes.join(','), '--device', run.device, ...timing];
        const env = { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? TORCH_MALLOC_TUNABLES };
        const child = await runChild(python, args, { timeoutSeconds: 60 + loads * (60 + budget.loadSeconds + budget.workloadSeconds), progress, prefix: 'torch_peer:', env });
        collect('torch', child, loads * workloads.length, rows, skipped);
      }
    }

    if (wanted.includes('transformersjs')) {
      const dtypes = (run.dtypes ?? ['fp32']).filter((d) => d === 'fp32' || d === 'fp16');
      if (!dtypes.length) {
        skipped.push(`transformersjs: runs fp32 and fp16 only (asked for ${run.dtypes!.join(', ')})`);
      } else {
        const device = run.device === 'cuda' ? 'webgpu' : 'cpu';
        const onGpu = device === 'webgpu' && run.webgpu ? ['--adapter', run.webgpu.adapter] : [];
        const env = device === 'webgpu' && run.webgpu?.icd ? { ...process.env, VK_ICD_FILENAMES: run.webgpu.icd } : undefined;
        // Its own Node process (onnxruntime-node carries its own Dawn); it writes the ONNX graphs itself (a load's
        // worth of time more), so the graph and its note stay together.
        const args = [...TRANSFORMERSJS_PEER, '--checkpoint', run.checkpointDir, '--workloads', workloadsFile, '--device', device, '--dtype', dtypes.join(','), ...onGpu, ...timing];
        const child = await runChild(process.execPath, args, { timeoutSeconds: 60 + dtypes.length * (2 * budget.loadSeconds + budget.workloadSeconds), progress, prefix: 'transformersjs:', cwd: PROJECT_ROOT, env });
        collect('transformersjs', child, dtypes.length * workloads.length, rows, skipped);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { rows, skipped };
}

/** Why the torch peer cannot run (one line), or null when torch_peer.py --check passes. */
async function checkTorch(python: string, progress: (message: string) => void): Promise<string | null> {
  const check = await runChild(python, [TORCH_PEER, '--check'], { timeoutSeconds: 120, progress, prefix: 'torch_peer:' });
  if (check.status === 0) {
    progress(`peers: ${check.stdout.trim()}`);
    return null;
  }
  if (check.spawnError) return `no Python interpreter "${python}" (${check.spawnError}); set MODERNBERT_PYTHON or create .venv`;
  return `${python} ${lastLine(check.stderr, 'torch_peer: ') ?? `torch_peer.py --check failed (${describeExit(check)})`}`;
}

/**
 * Generous time limits from the work: forward FLOPs (matmuls and attention on the padded batch) at 5 GFLOP/s,
 * far below what even a 2-core CPU sustains (about 90 GFLOP/s for base fp32), so only a hung peer reaches them.
 */
function workBudget(run: PeerRun): { loadSeconds: number; workloadSeconds: number } {
  let config: ModernBertConfig | undefined;
  try {
    config = loadConfig(join(run.checkpointDir, 'config.json'));
  } catch {
    // A bad checkpoint fails in the peer itself, with its own message; the limit only has to be finite.
  }
  const hidden = config?.hiddenSize ?? 1024;
  const layers = config?.numHiddenLayers ?? 28;
  const layerParams = 4 * hidden * hidden + 3 * hidden * (config?.intermediateSize ?? 4 * hidden);
  const params = layers * layerParams + (config?.vocabSize ?? 50368) * hidden;
  const passes = run.runs + run.warmup;
  let flops = 0;
  for (const w of run.workloads) {
    const longest = Math.max(0, ...w.sequences.map((s) => s.length));
    const padded = w.sequences.length * longest;
    flops += passes * padded * layers * (2 * layerParams + 4 * longest * hidden);
  }
  const rate = 5e9;
  return { loadSeconds: Math.ceil(params / 1e7), workloadSeconds: Math.ceil(flops / rate) };
}

/** Parses a peer's JSON lines into rows (each checked against RESULT_COLUMNS); problems become skip lines. */
function collect(peer: PeerName, child: ChildResult, expected: number, rows: ResultRow[], skipped: string[]): void {
  const lines = child.stdout.split('\n').filter((l) => l.trimStart().startsWith('{'));
  let got = 0;
  for (const line of lines) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      skipped.push(`${peer}: printed a line that is not JSON: ${line.slice(0, 120)}`);
      continue;
    }
    const missing = RESULT_COLUMNS.filter((c) => !Object.hasOwn(parsed as object, c));
    const extra = Object.keys(parsed as object).filter((k) => !(RESULT_COLUMNS as readonly string[]).includes(k));
    if (missing.length || extra.length) {
      skipped.push(`${peer}: a row does not match RESULT_COLUMNS (${[missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `unknown ${extra.join(', ')}` : ''].filter(Boolean).join('; ')})`);
      continue;
    }
    rows.push(resultRow(parsed as Partial<ResultRow>));
    got++;
  }
  if (child.timedOut) skipped.push(`${peer}: timed out after ${child.timeoutSeconds} s with ${got} of ${expected} rows`);
  else if (child.status !== 0) {
    const prefix = `${peer === 'torch' ? 'torch_peer' : 'transformersjs'}: `;
    // Each part that failed (a dtype, a workload) says so in a "... failed: why" line; else the last line says why.
    const failures = [...new Set(child.prefixed.filter((l) => l.includes(' failed: ')).map((l) => l.slice(prefix.length).trim()))];
    const why = child.spawnError ?? (failures.length ? failures.join('; ') : lastLine(child.stderr, prefix)) ?? describeExit(child);
    skipped.push(`${peer}: ${got} of ${expected} rows, then it failed (${describeExit(child)}): ${why}`);
  }
}

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** every stderr line that starts with the prefix, whole (stderr keeps only its tail) */
  prefixed: string[];
  timedOut: boolean;
  timeoutSeconds: number;
  spawnError?: string;
}

/**
 * Runs a child to completion, never throwing: stderr lines with `prefix` go to progress as they come, the
 * whole of stdout and the tail of stderr come back. After timeoutSeconds the child is killed.
 */
export function runChild(command: string, args: string[], options: { timeoutSeconds: number; progress?: (m: string) => void; prefix?: string; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<ChildResult> {
  return new Promise((resolvePromise) => {
    let child: ChildProcess;
    const result: ChildResult = { status: null, signal: null, stdout: '', stderr: '', prefixed: [], timedOut: false, timeoutSeconds: options.timeoutSeconds };
    try {
      child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolvePromise({ ...result, spawnError: (e as Error).message });
      return;
    }
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (result.stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      // Only the tail matters for error messages; a chatty library must not grow this without bound.
      result.stderr = (result.stderr + chunk).slice(-20_000);
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (options.prefix === undefined || !line.startsWith(options.prefix)) continue;
        result.prefixed.push(line);
        options.progress?.(line);
      }
    });
    let settled = false;
    const finish = (status: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolvePromise({ ...result, status, signal });
    };
    const timer = setTimeout(() => {
      result.timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutSeconds * 1000);
    child.on('error', (e) => {
      result.spawnError = e.message;
      // A child that never started emits no 'close' on every Node version: settle here.
      if (child.pid === undefined) finish(null, null);
    });
    child.on('close', finish);
  });
}

/** The peer's own one-line reason (its last stderr line with prefix), else the last line (an uncaught error's). */
function lastLine(stderr: string, prefix: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean).reverse();
  const own = lines.find((l) => l.startsWith(prefix));
  return own ? own.slice(prefix.length).trim() : lines[0];
}

function describeExit(child: ChildResult): string {
  if (child.spawnError) return child.spawnError;
  return child.signal ? `killed by ${child.signal}` : `exit ${child.status}`;
}
