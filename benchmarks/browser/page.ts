// The bench page's DOM (index.html): the settings form (URL parameters fill it in: ?config=small&workload=32x2
// &runs=2&peer=0&autostart=1; `workload` repeats), the progress bar, then the results as the leaderboard shows them
// (its tables and plots, the engine relative to the ONNX Runtime Web peer) and the downloads. body[data-state]
// says idle, running, done or error.
import { formatBytes } from '../../reports/format.ts';
import { memoryPlot, throughputPlot } from '../../reports/plots.ts';
import { type Table, peerRatioTables, resultTables, tableToHtml } from '../../reports/tables.ts';
import { type ResultRow, resultsToCsv } from '../results.ts';
import { type BenchOptions, type BenchRun, benchSubmission, runBench, submissionFileName } from './bench.ts';
import { readCheckpointFolder } from './checkpoint.ts';

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = element<HTMLFormElement>('settings');
const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
const progress = element<HTMLProgressElement>('progress');
const status = element('status');
const errorLine = element('error');

/** The URL's parameters into the form fields of the same names; `workload` repeats, one per line; a checkbox is off for 0, false or off. */
function fillFromUrl(params: URLSearchParams): void {
  for (const name of new Set(params.keys())) {
    const input = field(name);
    if (input instanceof HTMLInputElement && input.type === 'checkbox') input.checked = !['0', 'false', 'off'].includes(params.get(name)!);
    else if (input && input.type !== 'file') input.value = params.getAll(name).join('\n');
  }
}

function readOptions(): BenchOptions {
  const whole = (name: string, min: number) => {
    const value = Number(field(name).value);
    if (!Number.isInteger(value) || value < min) throw new Error(`${name}: "${field(name).value}" is not a whole number of at least ${min}`);
    return value;
  };
  const files = [...((field('checkpoint') as HTMLInputElement).files ?? [])];
  const workloads = field('workload').value.split('\n').map((w) => w.trim()).filter(Boolean);
  if (workloads.length === 0) throw new Error('workload: give at least one');
  return {
    config: field('config').value,
    checkpoint: files.length ? () => readCheckpointFolder(files) : null,
    dtype: field('dtype').value === 'fp16' ? 'fp16' : 'fp32',
    workloads,
    runs: whole('runs', 1),
    warmup: whole('warmup', 1),
    seed: whole('seed', 0),
    budgetBytes: whole('budget', 1) * 2 ** 20,
    maxTokens: whole('tokens', 1),
    peer: (field('peer') as HTMLInputElement).checked,
  };
}

/** The leaderboard's tables, and after the model table each backend relative to the peer (as reports/run-report.ts's runTables, which is not browser-safe). */
function pageTables(rows: readonly ResultRow[]): Table[] {
  const tables = resultTables(rows);
  tables.splice(1, 0, ...peerRatioTables(rows));
  return tables;
}

let downloadUrls: string[] = [];

function showResults(run: BenchRun | null, rows: readonly ResultRow[], skipped: readonly string[]): void {
  element('results').hidden = !run;
  if (!run) return;
  const env = run.environment;
  const facts: [string, string | null | undefined][] = [
    ['Device', env.device],
    ['Adapter', env.adapter],
    ['Runtime', env.runtime],
    ['OS', env.os],
    ['CPU', env.cpu],
    ['Memory', env.memory_bytes ? formatBytes(env.memory_bytes) : 'not told by this browser'],
    ['WebGPU features', env.features],
    ['Binding limit', env.limits ? formatBytes(Math.min(env.limits.maxStorageBufferBindingSize, env.limits.maxBufferSize)) : null],
    ['Versions', env.versions],
  ];
  element('environment').replaceChildren(...facts.filter(([, v]) => v).flatMap(([label, value]) => [Object.assign(document.createElement('dt'), { textContent: label }), Object.assign(document.createElement('dd'), { textContent: value })]));
  element('tables').innerHTML = pageTables(rows).map((t) => `<div class="table-scroll">\n${tableToHtml(t)}</div>`).join('\n');
  element('plots').innerHTML = rows.length ? `<figure>${throughputPlot(rows)}</figure><figure>${memoryPlot(rows)}</figure>` : '';
  element('skipped').replaceChildren(...skipped.map((why) => Object.assign(document.createElement('li'), { textContent: `not run: ${why}` })));

  for (const url of downloadUrls) URL.revokeObjectURL(url);
  const download = (text: string, type: string, name: string, label: string) => {
    const url = URL.createObjectURL(new Blob([text], { type }));
    downloadUrls.push(url);
    return Object.assign(document.createElement('a'), { href: url, download: name, textContent: label, className: 'download' });
  };
  downloadUrls = [];
  element('downloads').replaceChildren(
    ...(rows.length
      ? [
          download(JSON.stringify(benchSubmission(run, rows), null, 2) + '\n', 'application/json', submissionFileName(run, '.results.json'), 'Download results (JSON, to submit)'),
          download(resultsToCsv(rows), 'text/csv', submissionFileName(run, '-results.csv'), 'Download results (CSV)'),
        ]
      : []),
  );
}

async function start(): Promise<void> {
  const button = element<HTMLButtonElement>('start');
  button.disabled = true;
  errorLine.hidden = true;
  document.body.dataset.state = 'running';
  let run: BenchRun | null = null;
  const rows: ResultRow[] = [];
  const skipped: string[] = [];
  try {
    await runBench(
      readOptions(),
      {
        progress(fraction, text) {
          progress.value = fraction;
          status.textContent = `${Math.round(fraction * 100)}%: ${text}`;
        },
        row(row) {
          rows.push(row);
          showResults(run, rows, skipped);
        },
        skipped(why) {
          skipped.push(why);
          showResults(run, rows, skipped);
        },
      },
      (started) => (run = started),
    );
    document.body.dataset.state = 'done';
  } catch (e) {
    errorLine.textContent = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
    errorLine.hidden = false;
    document.body.dataset.state = 'error';
  } finally {
    showResults(run, rows, skipped);
    button.disabled = false;
  }
}

// A checkpoint folder brings its own config.
field('checkpoint').addEventListener('change', (event) => {
  field('config').disabled = ((event.target as HTMLInputElement).files?.length ?? 0) > 0;
});
form.addEventListener('submit', (event) => {
  event.preventDefault();
  void start();
});
const params = new URLSearchParams(location.search);
fillFromUrl(params);
document.body.dataset.state = 'idle';
if (params.get('autostart') === '1') void start();
