// npm run test:mutations [-- --only ID[,ID...]] [--list]
// Plants each bug of the catalog (catalog.ts) in a copy of the tree, never in the working tree, and runs the tests
// it names there: the mutation is caught when every one of them fails. A control run first checks that those tests
// pass on the unmutated copy, so a test failing for another reason is not counted as a catch. Prints a table of
// mutation -> the tests that failed; exits 0 when every mutation is caught, 1 when one survives, 2 on a usage or
// catalog error.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { MUTATIONS, type Mutation, MutationError, mutate } from './catalog.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const RUN_TIMEOUT_MS = 600_000;

type Status = 'passed' | 'failed' | 'skipped' | 'pending' | 'todo';
interface TestResult {
  file: string; // repo-relative
  name: string; // describe and test titles joined by spaces
  status: Status;
}

/** Runs the named tests of `catches` with vitest in `tree`; returns every test it reported, or why it could not run. */
function runTests(tree: string, catches: Mutation['catches']): { results: TestResult[]; error: string | null } {
  const files = [...new Set(catches.map((c) => c.file))];
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = catches.map((c) => escape(c.test)).join('|');
  const report = join(tree, '.mutation-report.json');
  rmSync(report, { force: true });
  const r = spawnSync(process.execPath, [VITEST, 'run', ...files, '-t', pattern, '--reporter=json', '--outputFile', report], { cwd: tree, encoding: 'utf8', timeout: RUN_TIMEOUT_MS, env: process.env });
  if (r.error || r.signal) return { results: [], error: `vitest did not finish: ${r.error?.message ?? r.signal} (limit ${RUN_TIMEOUT_MS / 1000} s)` };
  let json: { testResults: { name: string; message?: string; assertionResults: { fullName: string; status: Status }[] }[] };
  try {
    json = JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    return { results: [], error: `vitest wrote no report (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}` };
  }
  const results = json.testResults.flatMap((f) => f.assertionResults.map((a) => ({ file: relative(tree, f.name).split(sep).join('/'), name: a.fullName, status: a.status })));
  const unloaded = json.testResults.filter((f) => !f.assertionResults.length && f.message);
  return { results, error: unloaded.length ? unloaded.map((f) => `${relative(tree, f.name)} did not load: ${f.message!.split('\n')[0]}`).join('; ') : null };
}

/** The tests a catch names (there must be at least one). */
const named = (results: TestResult[], c: Mutation['catches'][number]) => results.filter((t) => t.file === c.file && t.name.includes(c.test));

interface Outcome {
  mutation: Mutation;
  caught: boolean;
  failing: TestResult[];
  detail: string;
  seconds: number;
}

/** Applies each mutation in turn to `tree` (restoring the file after), and runs the tests it names. */
function runMutation(tree: string, m: Mutation): Outcome {
  const file = join(tree, m.file);
  const original = readFileSync(file, 'utf8');
  const start = performance.now();
  writeFileSync(file, mutate(original, m));
  try {
    const { results, error } = runTests(tree, m.catches);
    const tests = m.catches.flatMap((c) => named(results, c));
    const failing = tests.filter((t) => t.status === 'failed');
    const survived = tests.filter((t) => t.status !== 'failed');
    const missing = m.catches.filter((c) => !named(results, c).length);
    const caught = !error && !missing.length && !survived.length;
    const detail = error ?? (missing.length ? `no test named ${missing.map((c) => `"${c.test}" in ${c.file}`).join(', ')}` : survived.length ? `still passing: ${survived.map((t) => t.name).join('; ')}` : '');
    return { mutation: m, caught, failing, detail, seconds: (performance.now() - start) / 1000 };
  } finally {
    writeFileSync(file, original);
  }
}

/** A copy of the tree (without .git and node_modules, which is linked) in a temporary folder. */
function copyTree(): { dir: string; tree: string } {
  const dir = mkdtempSync(join(tmpdir(), 'modernbert-mutations-'));
  const tree = join(dir, 'tree');
  const skip = new Set([join(ROOT, '.git'), join(ROOT, 'node_modules')]);
  cpSync(ROOT, tree, { recursive: true, filter: (src) => !skip.has(src) });
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
  return { dir, tree };
}

function table(outcomes: Outcome[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = outcomes.map((o) => `| ${o.mutation.id} | ${cell(o.mutation.what)} | \`${o.mutation.file}\` | ${o.failing.map((t) => `${cell(t.name)} (${t.file})`).join('<br>') || '-'} | ${o.caught ? 'caught' : `**survived**: ${cell(o.detail)}`} |`);
  return ['| mutation | bug | file | failing tests | result |', '|---|---|---|---|---|', ...rows].join('\n');
}

function parseArgs(argv: string[]): { only: Mutation[]; list: boolean } {
  let only = MUTATIONS;
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--list') list = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const value = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!value) throw new MutationError('--only needs mutation ids, comma-separated');
      const ids = value.split(',');
      const unknown = ids.filter((id) => !MUTATIONS.some((m) => m.id === id));
      if (unknown.length) throw new MutationError(`--only: unknown mutation ${unknown.map((u) => `"${u}"`).join(', ')} (known: ${MUTATIONS.map((m) => m.id).join(', ')})`);
      only = MUTATIONS.filter((m) => ids.includes(m.id));
    } else throw new MutationError(`unknown option "${a}" (usage: npm run test:mutations [-- --only ID[,ID...]] [--list])`);
  }
  return { only, list };
}

function main(): number {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(process.argv.slice(2));
    for (const m of options.only) mutate(readFileSync(join(ROOT, m.file), 'utf8'), m); // the catalog still applies
  } catch (e) {
    if (!(e instanceof MutationError)) throw e;
    console.error(`test:mutations: ${e.message}`);
    return 2;
  }
  const mutations = options.only;
  if (options.list) {
    console.log(['| mutation | bug | file | must fail |', '|---|---|---|---|', ...mutations.map((m) => `| ${m.id} | ${m.what} | \`${m.file}\` | ${m.catches.map((c) => `${c.test} (${c.file})`).join('<br>')} |`)].join('\n'));
    return 0;
  }
  const { dir, tree } = copyTree();
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals) => {
    cleanUp();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const start = performance.now();
    console.error(`test:mutations: ${mutations.length} mutations in a copy of the tree (${tree})`);
    const control = runTests(tree, mutations.flatMap((m) => m.catches));
    const broken = mutations.flatMap((m) => m.catches.flatMap((c) => {
      const tests = named(control.results, c);
      return !tests.length ? [`no test named "${c.test}" in ${c.file}`] : tests.filter((t) => t.status !== 'passed').map((t) => `${t.name} (${t.file}) ${t.status}`);
    }));
    if (control.error || broken.length) {
      console.error(`test:mutations: the control run (no mutation) must pass every named test first: ${[control.error, ...new Set(broken)].filter(Boolean).join('; ')}`);
      return 2;
    }
    console.error(`test:mutations: control run: ${control.results.filter((t) => t.status === 'passed').length} named tests pass unmutated (${((performance.now() - start) / 1000).toFixed(0)} s)`);
    const outcomes = mutations.map((m, i) => {
      const o = runMutation(tree, m);
      console.error(`test:mutations: ${i + 1}/${mutations.length} ${m.id}: ${o.caught ? `caught by ${o.failing.length} test(s)` : `SURVIVED (${o.detail})`} in ${o.seconds.toFixed(0)} s`);
      return o;
    });
    console.log(table(outcomes));
    const survived = outcomes.filter((o) => !o.caught);
    console.error(`test:mutations: ${outcomes.length - survived.length} of ${outcomes.length} caught${survived.length ? `; survived: ${survived.map((o) => o.mutation.id).join(', ')}` : ''} (${((performance.now() - start) / 1000).toFixed(0)} s)`);
    return survived.length ? 1 : 0;
  } finally {
    cleanUp();
  }
}

process.exitCode = main();
