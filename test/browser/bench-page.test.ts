// The browser bench page (npm run bench:browser), built by its builder and served by its server, runs in headless
// Chromium on SwiftShader over a reduced workload, the engine and then its peer (ONNX Runtime Web's WebGPU
// provider) on the same batches; its downloaded results merge into the leaderboard. A bad checkpoint folder shows
// an error that names the file or tensor. The workload sizing is checked in Node.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBenchPage, servePage } from '../../benchmarks/browser/build.ts';
import { serve } from '../../benchmarks/browser/serve.ts';
import { sizeWorkload } from '../../benchmarks/browser/sizing.ts';
import { gitCommit } from '../../benchmarks/environment.ts';
import { ONNX_EXPORT_NOTE } from '../../benchmarks/peers/onnx-graph.ts';
import { RESULT_COLUMNS, parseResultsCsv } from '../../benchmarks/results.ts';
import { type Submission, rowProblems } from '../../benchmarks/submission.ts';
import { planMemory } from '../../optimized/webgpu/modernbert.ts';
import { presetConfig } from '../../reference/config.ts';
import { encodeSafetensors, parseSafetensors } from '../../reference/safetensors.ts';
import { main as generateLeaderboard } from '../../reports/generate.ts';
import { GOLDEN, tempDir } from '../helpers.ts';
import { type StaticServer, launchChromium, plotLayout } from './chromium.ts';

const MiB = 2 ** 20;
const packageVersion = (path: string) => (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', path), 'utf8')) as { version: string }).version;
const PEER_TABLE = 'vs ONNX Runtime Web (WebGPU) (tokens/s over onnxruntime-web webgpu on the same workload, config and dtype; over its fp32 where it has no row of that dtype)';

describe('workload sizing', () => {
  const config = presetConfig('small');

  it('takes the most documents within the token cap, and says what stopped it', async () => {
    const sized = await sizeWorkload(config, 'variable_short', { bindingBytes: 2 ** 30, budgetBytes: 2 ** 30, maxTokens: 1000 }, 42);
    if ('skipped' in sized) throw new Error(sized.skipped);
    const tokens = sized.workload.lengths.reduce((a, b) => a + b, 0);
    expect(sized.workload.name).toBe('variable_short');
    expect(tokens).toBeLessThanOrEqual(1000);
    expect(sized.why).toMatch(new RegExp(`^sized to this adapter: ${sized.workload.lengths.length} documents, .*; ${sized.workload.lengths.length + 1} would need [\\d,]+ real tokens, over the cap of 1,000$`));
  });

  it('stops at the memory budget and at the binding limit', async () => {
    const threeDocuments = await planMemory(config, [512, 512, 512]);
    const byBudget = await sizeWorkload(config, 'fixed_short', { bindingBytes: 2 ** 30, budgetBytes: threeDocuments.peak_bytes, maxTokens: 1e6 }, 42);
    expect('workload' in byBudget && byBudget.workload.lengths).toEqual([512, 512, 512]);
    expect('why' in byBudget && byBudget.why).toMatch(/4 would need a planned peak of [\d.]+ MiB, over the [\d.]+ MiB budget$/);
    const byBinding = await sizeWorkload(config, 'fixed_short', { bindingBytes: threeDocuments.largest_buffer_bytes, budgetBytes: 2 ** 30, maxTokens: 1e6 }, 42);
    if ('skipped' in byBinding) throw new Error(byBinding.skipped);
    expect(byBinding.why).toMatch(/would need a [\d.]+ MiB buffer, over the adapter's [\d.]+ MiB binding limit$/);
    expect(await sizeWorkload(config, 'fixed_short', { bindingBytes: MiB, budgetBytes: 2 ** 30, maxTokens: 1e6 }, 42)).toEqual({ skipped: expect.stringMatching(/^fixed_short: not even one document fits \(a [\d.]+ MiB buffer, over the adapter's 1.0 MiB binding limit\)$/) });
  });

  it('runs a workload with a count or shapes as given when it fits', async () => {
    const limits = { bindingBytes: 2 ** 30, budgetBytes: 2 ** 30, maxTokens: 4096 };
    const given = await sizeWorkload(config, '32x2,16', limits, 42);
    expect('workload' in given && given.workload).toEqual({ name: '32x2,16', lengths: [32, 32, 16] });
    expect(await sizeWorkload(config, 'fixed_short:9', limits, 42)).toEqual({ skipped: 'fixed_short:9: 4,608 real tokens, over the cap of 4,096' });
    expect(await sizeWorkload(config, 'fixed_medium', limits, 42)).toEqual({ skipped: expect.stringContaining('fixed_medium: workload "fixed_medium" is not one of') });
  });
});

describe('the static server', () => {
  it('answers a file gone from its folder with a 500 naming it, and keeps serving', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'here.txt'), 'here');
    const server = await serve((path) => ({ body: readFileSync(join(dir, path.slice(1))), type: 'text/plain' }));
    try {
      const gone = await fetch(`${server.url}/gone.txt`);
      expect(gone.status).toBe(500);
      expect(await gone.text()).toContain(join(dir, 'gone.txt'));
      expect(await (await fetch(`${server.url}/here.txt`)).text()).toBe('here');
    } finally {
      await server.close();
    }
  });
});

describe('browser bench page in headless Chromium', () => {
  let out: string;
  let server: StaticServer;
  let browser: Browser;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'modernbert-bench-page-'));
    await buildBenchPage(out);
    server = await servePage(out);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  /**
   * Opens the page with `query`, starting it (autostart, or the Start button after `prepare`), and waits for the run
   * to end; `fetched` lists the WebAssembly files the page asked for (the peer's runtime).
   */
  async function runPage(query: string, prepare?: (page: Page) => Promise<void>): Promise<{ page: Page; problems: string[]; fetched: string[] }> {
    const page = await browser.newPage({ acceptDownloads: true });
    const problems: string[] = [];
    const fetched: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('request', (r) => r.url().endsWith('.wasm') && fetched.push(new URL(r.url()).pathname));
    await page.goto(`${server.url}/?${query}`);
    if (prepare) {
      await prepare(page);
      await page.getByRole('button', { name: 'Start' }).click();
    }
    // A script that fails to load never ends the run: its error ends the wait.
    const crashed = new Promise<never>((_, reject) => page.on('pageerror', reject));
    await Promise.race([page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error', null, { timeout: 200_000 }), crashed]);
    return { page, problems, fetched };
  }

  /** A table's body rows as header -> cell text, so that checks do not depend on the order of the columns. */
  const tableRows = (table: Locator) =>
    table.evaluate((t) => {
      const headers = [...t.querySelectorAll('thead th')].map((th) => th.textContent ?? '');
      return [...t.querySelectorAll('tbody tr')].map((tr) => Object.fromEntries([...tr.querySelectorAll('td')].map((td, i) => [headers[i], td.textContent ?? ''])));
    });

  /** The submission the page offers for download (the JSON link's blob), read in the page. */
  const offeredSubmission = async (page: Page) => JSON.parse(await page.getByRole('link', { name: 'Download results (JSON, to submit)' }).evaluate(async (a: HTMLAnchorElement) => (await fetch(a.href)).text())) as Submission;

  it('bundles without Node built-ins, and serves the peer runtime beside the page', async () => {
    const script = readFileSync(join(out, 'page.js'), 'utf8');
    expect(script.match(/^import\s[^;]*from\s*["'](node:[^"']+|webgpu)["']/gm) ?? []).toEqual([]);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('<script type="module" src="page.js"></script>');
    const binaries = readdirSync(out).filter((f) => f.endsWith('.wasm'));
    expect(binaries).toEqual([expect.stringMatching(/^ort-wasm-.*\.wasm$/)]);
    const response = await fetch(`${server.url}/${binaries[0]}`);
    expect(response.headers.get('content-type')).toBe('application/wasm');
    await response.body?.cancel();
  });

  // The engine, then the peer on the same batches: SwiftShader compiles both runtimes' shaders, hence the time.
  it('runs a reduced workload with the peer, downloads the results and merges them into the leaderboard', { timeout: 240_000 }, async () => {
    const started = Date.now();
    // Two tiny batches, and a paper workload whose smallest batch (its first document: 321 tokens) is over the
    // token cap: the page sizes it and says why it did not run. Sizing that runs documents is checked above.
    const { page, problems } = await runPage('config=small&workload=32x2&workload=16x3&workload=variable_short&tokens=200&runs=2&warmup=1&autostart=1');
    const error = await page.locator('#error').textContent();
    expect(await page.evaluate(() => document.body.dataset.state), `page error: ${error}; console: ${problems.join(' | ')}`).toBe('done');
    process.stdout.write(`bench page run: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

    expect(await page.locator('#progress').evaluate((p: HTMLProgressElement) => p.value)).toBe(1);
    await expect(page.locator('#status').textContent()).resolves.toBe('100%: done: 2 of 3 workload(s) run, 2 by the ONNX Runtime Web peer');
    const tables = page.locator('#tables table');
    await expect(tables.locator('caption').allTextContents()).resolves.toEqual(['Model forward passes (real tokens per second)', PEER_TABLE]);
    const models = await tableRows(tables.first());
    expect(models.map((r) => `${r.backend} ${r.variant} ${r.dtype} ${r.workload}`).sort()).toEqual(['onnxruntime-web webgpu fp32 16x3', 'onnxruntime-web webgpu fp32 32x2', 'webgpu flash fp32 16x3', 'webgpu flash fp32 32x2']);
    const ratio = expect.stringMatching(/^\d+\.\d\d×$/);
    expect(await tableRows(tables.nth(1))).toEqual([expect.objectContaining({ backend: 'webgpu', variant: 'flash', dtype: 'fp32', 'peer dtype': 'fp32', '16x3': ratio, '32x2': ratio })]);
    await expect(page.locator('#plots svg').count()).resolves.toBe(2);
    // Throughput: a line per backend; peak memory: the engine's rows only (ONNX Runtime does not say). Each point's
    // marker has a title, whatever its shape.
    await expect(page.locator('#plots svg').first().locator('.series').count()).resolves.toBe(2);
    await expect(page.locator('#plots svg').first().locator('.series title').count()).resolves.toBe(4);
    await expect(page.locator('#plots svg').nth(1).locator('.series title').count()).resolves.toBe(2);
    await expect(page.locator('#skipped li').allTextContents()).resolves.toEqual(['not run: variable_short: not even one document fits (321 real tokens, over the cap of 200)']);
    // At 1280 px: the page does not scroll sideways (a wide table scrolls inside its box), and each plot has a
    // legend entry per series with none overlapping.
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    for (const box of await page.locator('#tables .table-scroll').all()) expect(await box.evaluate((b) => b.getBoundingClientRect().right)).toBeLessThanOrEqual(1280);
    for (const svg of await page.locator('#plots svg').all()) {
      const layout = await plotLayout(svg);
      expect(layout.legendEntries).toBe(layout.series);
      expect(layout.overlapping).toEqual([]);
    }

    const root = tempDir();
    const saved: string[] = [];
    for (const label of ['Download results (JSON, to submit)', 'Download results (CSV)']) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: label }).click()]);
      saved.push(join(root, 'browser', download.suggestedFilename()));
      await download.saveAs(saved.at(-1)!);
    }
    await page.close();
    const [jsonFile, csvFile] = saved;
    expect(jsonFile).toMatch(/[/\\]google-swiftshader-\d{4}-\d{2}-\d{2}T\d{6}\.results\.json$/);
    expect(csvFile).toBe(jsonFile.replace('.results.json', '-results.csv'));

    const submission = JSON.parse(readFileSync(jsonFile, 'utf8')) as Submission;
    expect(submission.environment).toMatchObject({ device: 'google-swiftshader', adapter: 'google / swiftshader', limits: { maxStorageBufferBindingSize: expect.any(Number), maxBufferSize: expect.any(Number) } });
    const rows = submission.rows;
    expect(rows.map((r) => [r.backend, r.name, r.sequences, r.tokens])).toEqual([['webgpu', '32x2', 2, 64], ['webgpu', '16x3', 3, 48], ['onnxruntime-web', '32x2', 2, 64], ['onnxruntime-web', '16x3', 3, 48]]);
    for (const row of rows) {
      expect(rowProblems(row)).toEqual([]);
      expect(row).toMatchObject({ kind: 'model', config: 'small', dtype: 'fp32', runs: 2, device: 'google-swiftshader', adapter: 'google / swiftshader', commit: gitCommit(), date: rows[0].date });
      expect(row.runtime).toMatch(/^(Chrome|Chromium|HeadlessChrome) \d+\.\d+/);
      expect(row.cpu).toMatch(/^\d+ logical cores \(a browser does not tell the CPU model\)$/);
      expect(row.os).toMatch(/^Linux/);
      expect(row.tokens_per_s).toBeGreaterThan(0);
      expect(row.load_s).toBeGreaterThan(0);
      expect(row.first_s).toBeGreaterThan(0);
    }
    for (const row of rows.filter((r) => r.backend === 'onnxruntime-web')) {
      expect(row).toMatchObject({ variant: 'webgpu', peak_bytes: null, versions: `onnxruntime-web ${packageVersion('node_modules/onnxruntime-web/package.json')}; WebGPU (browser)` });
      expect(row.features).toMatch(/^ONNX Runtime's device has: /);
      expect(row.note).toBe(`browser page; random weights (seed 42); padded batch: ${row.sequences === 2 ? '64 tokens computed for 64' : '48 tokens computed for 48'} real; wall clock per session.run through the readback of last_hidden_state; SwiftShader: a CPU emulation, not a GPU number; ${ONNX_EXPORT_NOTE}`);
    }
    for (const row of rows.filter((r) => r.backend === 'webgpu')) {
      expect(row).toMatchObject({ variant: 'flash' });
      expect(row.versions).toBe(`modernbert-ts ${packageVersion('package.json')}; WebGPU (browser)`);
      expect(row.features).toMatch(/^used: none \(core WGSL\); device has: /);
      expect(row.peak_bytes).toBeGreaterThan(0);
      expect(row.note).toMatch(/^browser page; random weights \(seed 42\); \d sequences as asked; planned peak [\d.]+ MiB; wall clock per forward pass through the readback of last_hidden_state; SwiftShader: a CPU emulation, not a GPU number$/);
    }
    // The CSV holds the same rows, for a spreadsheet; the leaderboard takes the JSON (a CSV merges only as results.csv).
    expect(parseResultsCsv(readFileSync(csvFile, 'utf8'), csvFile).map((r) => [r.backend, r.name, r.commit, r.load_s !== ''])).toEqual([
      ['webgpu', '32x2', gitCommit(), true],
      ['webgpu', '16x3', gitCommit(), true],
      ['onnxruntime-web', '32x2', gitCommit(), true],
      ['onnxruntime-web', '16x3', gitCommit(), true],
    ]);

    const stdout: string[] = [];
    const stderr: string[] = [];
    expect(generateLeaderboard(['--root', root], (l) => stdout.push(l), (l) => stderr.push(l))).toBe(0);
    expect(stderr).toEqual([]);
    expect(stdout[0]).toBe('0 results.csv file(s), 4 row(s), 1 device(s); 1 submission file(s)');
    const leaderboard = readFileSync(join(root, 'leaderboard.md'), 'utf8');
    const section = leaderboard.slice(leaderboard.indexOf('## google-swiftshader'));
    expect(leaderboard).toContain('## google-swiftshader');
    expect(section).toContain('- Adapter: google / swiftshader');
    expect(section).toMatch(/- Runtime: (Chrome|Chromium|HeadlessChrome) \d+/);
    expect(section).toMatch(/- CPU: \d+ logical cores/);
    for (const backend of ['webgpu \\| flash', 'onnxruntime-web \\| webgpu']) {
      for (const workload of ['32x2', '16x3']) expect(section).toMatch(new RegExp(`^\\| ${backend} \\|[^\\n]* fp32 \\| ${workload} \\|`, 'm'));
    }
    expect(RESULT_COLUMNS.every((c) => rows.every((r) => c in r))).toBe(true);
  });

  it('reports the peer as not run for fp16 on an adapter without shader-f16, before fetching its runtime', async () => {
    // Cheap: the peer's check comes before the engine runs, and the engine's only workload is over the token cap
    // (the engine's f16 kernels would take half a minute to compile on SwiftShader).
    const { page, problems, fetched } = await runPage('config=small&dtype=fp16&workload=variable_short&tokens=200&runs=1&warmup=1&autostart=1');
    expect(await page.evaluate(() => document.body.dataset.state), `${await page.locator('#error').textContent()} ${problems.join(' | ')}`).toBe('done');
    await expect(page.locator('#skipped li').allTextContents()).resolves.toEqual([
      "not run: variable_short: ONNX Runtime Web (WebGPU) peer, fp16: this adapter has no shader-f16, which ONNX Runtime's fp16 kernels need",
      'not run: variable_short: not even one document fits (321 real tokens, over the cap of 200)',
    ]);
    await expect(page.locator('#status').textContent()).resolves.toBe('100%: done: 0 of 1 workload(s) run');
    expect(fetched).toEqual([]);
    await page.close();
  });

  /** A folder named `name` under a temporary directory with the golden tiny case's config.json and, given, model.safetensors bytes. */
  function checkpointFolder(name: string, weights: Uint8Array | null): string {
    const dir = join(tempDir(), name);
    mkdirSync(dir);
    copyFileSync(join(GOLDEN, 'tiny', 'config.json'), join(dir, 'config.json'));
    if (weights) writeFileSync(join(dir, 'model.safetensors'), weights);
    return dir;
  }

  const chooseFolder = (dir: string) => (page: Page) => page.locator('#checkpoint').setInputFiles(dir);

  it('names the missing file of a checkpoint folder', async () => {
    const { page } = await runPage('workload=8x2&runs=1&warmup=1', chooseFolder(checkpointFolder('no-weights', null)));
    expect(await page.evaluate(() => document.body.dataset.state)).toBe('error');
    await expect(page.locator('#error').textContent()).resolves.toBe('the folder "no-weights" has no model.safetensors (it has: no-weights/config.json)');
    await page.close();
  });

  it('names the bad tensor of a checkpoint folder', async () => {
    const { tensors } = parseSafetensors(readFileSync(join(GOLDEN, 'tiny', 'model.safetensors')), 'model.safetensors');
    tensors.delete('model.final_norm.weight');
    const { page } = await runPage('workload=8x2&runs=1&warmup=1', chooseFolder(checkpointFolder('bad-weights', encodeSafetensors(tensors))));
    expect(await page.evaluate(() => document.body.dataset.state)).toBe('error');
    await expect(page.locator('#error').textContent()).resolves.toMatch(/bad-weights\/model\.safetensors.*model\.final_norm\.weight/);
    await page.close();
  });

  it('runs the weights of a checkpoint folder, named by the folder, without the peer when peer=0', async () => {
    const { page, problems, fetched } = await runPage('workload=8x2&runs=1&warmup=1&peer=0', chooseFolder(checkpointFolder('tiny-checkpoint', readFileSync(join(GOLDEN, 'tiny', 'model.safetensors')))));
    expect(await page.evaluate(() => document.body.dataset.state), `${await page.locator('#error').textContent()} ${problems.join(' | ')}`).toBe('done');
    expect(await page.locator('#peer').isChecked()).toBe(false);
    await expect(page.locator('#tables caption').allTextContents()).resolves.toEqual(['Model forward passes (real tokens per second)']);
    expect((await tableRows(page.locator('#tables table'))).map((r) => `${r.backend} ${r.variant} ${r.dtype} ${r.workload}`)).toEqual(['webgpu flash fp32 8x2']);
    const { rows } = await offeredSubmission(page);
    expect(rows).toEqual([expect.objectContaining({ backend: 'webgpu', config: 'tiny-checkpoint', dtype: 'fp32', name: '8x2', sequences: 2, note: expect.stringMatching(/^browser page; checkpoint folder tiny-checkpoint; 2 sequences as asked; /) })]);
    await expect(page.locator('#status').textContent()).resolves.toBe('100%: done: 1 of 1 workload(s) run');
    await expect(page.locator('#skipped li').count()).resolves.toBe(0);
    expect(fetched).toEqual([]);
    await page.close();
  });
});
