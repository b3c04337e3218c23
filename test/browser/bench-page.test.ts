// The browser bench page (npm run bench:browser), built by its builder and served by its server, runs in headless
// Chromium on SwiftShader over a reduced workload; its downloaded results merge into the leaderboard. A bad
// checkpoint folder shows an error that names the file or tensor. The workload sizing is checked in Node.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBenchPage, servePage } from '../../benchmarks/browser/build.ts';
import { sizeWorkload } from '../../benchmarks/browser/sizing.ts';
import { gitCommit } from '../../benchmarks/environment.ts';
import { RESULT_COLUMNS, parseResultsCsv } from '../../benchmarks/results.ts';
import { type Submission, rowProblems } from '../../benchmarks/submission.ts';
import { planMemory } from '../../optimized/webgpu/modernbert.ts';
import { presetConfig } from '../../reference/config.ts';
import { encodeSafetensors, parseSafetensors } from '../../reference/safetensors.ts';
import { main as generateLeaderboard } from '../../reports/generate.ts';
import { GOLDEN, tempDir } from '../helpers.ts';
import { type StaticServer, launchChromium } from './chromium.ts';

const MiB = 2 ** 20;

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

  /** Opens the page with `query`, starting it (autostart, or the Start button after `prepare`), and waits for the run to end. */
  async function runPage(query: string, prepare?: (page: Page) => Promise<void>): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ acceptDownloads: true });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    await page.goto(`${server.url}/?${query}`);
    if (prepare) {
      await prepare(page);
      await page.getByRole('button', { name: 'Start' }).click();
    }
    // A script that fails to load never ends the run: its error ends the wait.
    const crashed = new Promise<never>((_, reject) => page.on('pageerror', reject));
    await Promise.race([page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error', null, { timeout: 100_000 }), crashed]);
    return { page, problems };
  }

  it('bundles without Node built-ins', () => {
    const script = readFileSync(join(out, 'page.js'), 'utf8');
    expect(script.match(/^import\s[^;]*from\s*["'](node:[^"']+|webgpu)["']/gm) ?? []).toEqual([]);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('<script type="module" src="page.js"></script>');
  });

  it('runs a reduced workload, downloads the results and merges them into the leaderboard', async () => {
    const started = Date.now();
    // Two tiny batches, and a paper workload whose smallest batch (its first document: 321 tokens) is over the
    // token cap: the page sizes it and says why it did not run. Sizing that runs documents is checked above.
    const { page, problems } = await runPage('config=small&workload=32x2&workload=16x3&workload=variable_short&tokens=200&runs=2&warmup=1&autostart=1');
    const error = await page.locator('#error').textContent();
    expect(await page.evaluate(() => document.body.dataset.state), `page error: ${error}; console: ${problems.join(' | ')}`).toBe('done');
    process.stdout.write(`bench page run: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

    expect(await page.locator('#progress').evaluate((p: HTMLProgressElement) => p.value)).toBe(1);
    await expect(page.locator('#status').textContent()).resolves.toBe('100%: done: 2 of 3 workload(s) run');
    const table = page.locator('#tables table').first();
    await expect(table.locator('caption').textContent()).resolves.toBe('Model forward passes (real tokens per second)');
    await expect(table.locator('tbody tr').count()).resolves.toBe(2);
    await expect(page.locator('#plots svg').count()).resolves.toBe(2);
    await expect(page.locator('#plots svg').first().locator('.series circle').count()).resolves.toBe(2);
    await expect(page.locator('#skipped li').allTextContents()).resolves.toEqual(['not run: variable_short: not even one document fits (321 real tokens, over the cap of 200)']);

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
    expect(rows.map((r) => [r.name, r.sequences, r.tokens])).toEqual([['32x2', 2, 64], ['16x3', 3, 48]]);
    for (const row of rows) {
      expect(rowProblems(row)).toEqual([]);
      expect(row).toMatchObject({ kind: 'model', backend: 'webgpu', variant: 'flash', config: 'small', dtype: 'fp32', runs: 2, device: 'google-swiftshader', commit: gitCommit() });
      expect(row.runtime).toMatch(/^(Chrome|Chromium|HeadlessChrome) \d+\.\d+/);
      expect(row.versions).toBe(`modernbert-ts ${JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')).version}; WebGPU (browser)`);
      expect(row.cpu).toMatch(/^\d+ logical cores \(a browser does not tell the CPU model\)$/);
      expect(row.os).toMatch(/^Linux/);
      expect(row.features).toMatch(/^used: none \(core WGSL\); device has: /);
      expect(row.load_s).toBeGreaterThan(0);
      expect(row.first_s).toBeGreaterThan(0);
      expect(row.peak_bytes).toBeGreaterThan(0);
      expect(row.note).toMatch(/^browser page; random weights \(seed 42\); \d sequences as asked; planned peak [\d.]+ MiB; wall clock per forward pass through the readback of last_hidden_state; SwiftShader: a CPU emulation, not a GPU number$/);
    }
    // The CSV holds the same rows, for a spreadsheet; the leaderboard takes the JSON (a CSV merges only as results.csv).
    expect(parseResultsCsv(readFileSync(csvFile, 'utf8'), csvFile).map((r) => [r.name, r.commit, r.load_s !== ''])).toEqual([['32x2', gitCommit(), true], ['16x3', gitCommit(), true]]);

    const stdout: string[] = [];
    const stderr: string[] = [];
    expect(generateLeaderboard(['--root', root], (l) => stdout.push(l), (l) => stderr.push(l))).toBe(0);
    expect(stderr).toEqual([]);
    expect(stdout[0]).toBe('0 results.csv file(s), 2 row(s), 1 device(s); 1 submission file(s)');
    const leaderboard = readFileSync(join(root, 'leaderboard.md'), 'utf8');
    const section = leaderboard.slice(leaderboard.indexOf('## google-swiftshader'));
    expect(leaderboard).toContain('## google-swiftshader');
    expect(section).toContain('- Adapter: google / swiftshader');
    expect(section).toMatch(/- Runtime: (Chrome|Chromium|HeadlessChrome) \d+/);
    expect(section).toMatch(/- CPU: \d+ logical cores/);
    expect(section).toMatch(/\| webgpu \| flash \| small \| fp32 \| 32x2 \| 2 \| 64 \|/);
    expect(section).toMatch(/\| webgpu \| flash \| small \| fp32 \| 16x3 \| 3 \| 48 \|/);
    expect(RESULT_COLUMNS.every((c) => c in rows[0])).toBe(true);
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

  it('runs the weights of a checkpoint folder, named by the folder', async () => {
    const { page, problems } = await runPage('workload=8x2&runs=1&warmup=1', chooseFolder(checkpointFolder('tiny-checkpoint', readFileSync(join(GOLDEN, 'tiny', 'model.safetensors')))));
    expect(await page.evaluate(() => document.body.dataset.state), `${await page.locator('#error').textContent()} ${problems.join(' | ')}`).toBe('done');
    const cells = await page.locator('#tables tbody tr').first().locator('td').allTextContents();
    expect(cells.slice(0, 6)).toEqual(['webgpu', 'flash', 'tiny-checkpoint', 'fp32', '8x2', '2']);
    expect(cells.at(-1)).toMatch(/^browser page; checkpoint folder tiny-checkpoint; 2 sequences as asked; /);
    await page.close();
  });
});
