// `npm run bench`: one forward pass per backend on a built-in config with seeded random weights, timed with
// tinybench (warm-up, then the median of several runs and its spread), printed as a table.
//   npm run bench -- [--config small|base|large] [--lengths 128x4] [--backends reference:fp32,reference:fp64]
//                    [--runs 3] [--warmup 1] [--seed 42]
// Each backend runs in its own child process, so one backend's JIT state cannot slow another's.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { presetConfig } from '../reference/config.ts';
import { forward, randomModel } from '../reference/modernbert.ts';
import { precisionByName } from '../reference/ops.ts';
import { parseLengths, randomSequences } from './workloads.ts';

interface Row {
  backend: string;
  config: string;
  sequences: number;
  tokens: number;
  runs: number;
  medianSeconds: number;
  minSeconds: number;
  maxSeconds: number;
  tokensPerSecond: number;
}

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'small' },
    lengths: { type: 'string', default: '128x4' },
    backends: { type: 'string', default: 'reference:fp32,reference:fp64' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    seed: { type: 'string', default: '42' },
    child: { type: 'boolean', default: false },
  },
});

const BACKENDS = ['reference:fp32', 'reference:fp64'];
const backends = values.backends.split(',');
for (const b of backends) if (!BACKENDS.includes(b)) fail(`--backends: unknown backend "${b}" (available: ${BACKENDS.join(', ')})`);
const config = presetConfig(values.config);
const lengths = parseLengths(values.lengths);
const runs = Number(values.runs);
const warmup = Number(values.warmup);
if (!(Number.isInteger(runs) && runs > 0)) fail(`--runs must be a positive integer, got "${values.runs}"`);
if (!(Number.isInteger(warmup) && warmup >= 0)) fail(`--warmup must be a non-negative integer, got "${values.warmup}"`);

if (values.child) {
  process.stdout.write(JSON.stringify(await measure(backends[0])) + '\n');
} else {
  const rows = backends.map((backend) => {
    const args = process.argv.slice(2).filter((_, i, a) => a[i] !== '--backends' && a[i - 1] !== '--backends' && !a[i].startsWith('--backends='));
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args, '--backends', backend, '--child'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    if (child.status !== 0) fail(`${backend}: the benchmark process failed (exit ${child.status})`);
    return JSON.parse(child.stdout) as Row;
  });
  printTable(rows);
}

async function measure(backend: string): Promise<Row> {
  const precision = precisionByName(backend.split(':')[1]);
  const sequences = randomSequences(lengths, config.vocabSize, Number(values.seed));
  const tokens = lengths.reduce((a, b) => a + b, 0);
  process.stderr.write(`${backend}: ${values.config} with random weights, ${warmup} warm-up + ${runs} timed forward passes of ${lengths.length} sequences / ${tokens} tokens\n`);
  const model = randomModel(config, precision, Number(values.seed));
  const bench = new Bench({ iterations: runs, time: 0, warmupIterations: warmup, warmupTime: 0 });
  bench.add(backend, () => {
    forward(model, sequences);
  });
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state !== 'completed') fail(`${backend}: ${result.state === 'errored' ? result.error.message : result.state}`);
  const { p50, min, max } = (result as { latency: { p50: number; min: number; max: number } }).latency;
  return { backend, config: values.config, sequences: lengths.length, tokens, runs, medianSeconds: p50 / 1000, minSeconds: min / 1000, maxSeconds: max / 1000, tokensPerSecond: tokens / (p50 / 1000) };
}

function printTable(rows: Row[]): void {
  const header = ['backend', 'config', 'batch', 'runs', 'median s', 'min-max s', 'tokens/s'];
  const cells = rows.map((r) => [r.backend, r.config, `${r.sequences} seqs / ${r.tokens} tok`, String(r.runs), r.medianSeconds.toFixed(3), `${r.minSeconds.toFixed(3)}-${r.maxSeconds.toFixed(3)}`, r.tokensPerSecond.toFixed(1)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((s, i) => s.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\nModernBERT forward pass (real tokens/s), node ${process.versions.node}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}
