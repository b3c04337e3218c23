// The WebGPU engine, bundled for the browser with no Node modules, runs a golden case in headless Chromium
// (SwiftShader adapter) and passes with the same tolerances as `modernbert parity`.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { bundleForBrowser } from '../../benchmarks/browser/build.ts';
import { FP32_TOLERANCE, type ParityResult } from '../../evals/parity-check.ts';
import { GOLDEN } from '../helpers.ts';
import { type StaticServer, launchChromium, serve } from './chromium.ts';

const CASE = 'window'; // sliding-window and global layers, a padded batch, every output kind

describe('WebGPU engine in headless Chromium', () => {
  let server: StaticServer;
  let browser: Browser;
  let script: string;

  beforeAll(async () => {
    script = await bundleForBrowser(join(import.meta.dirname, 'page.ts'));
    server = await serve((path) => {
      if (path === '/') return { body: '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>', type: 'text/html' };
      if (path === '/page.js') return { body: script, type: 'text/javascript' };
      const m = /^\/case\/(\w+)\/([\w.]+)$/.exec(path);
      const file = m && join(GOLDEN, m[1], m[2]);
      return file && existsSync(file) ? { body: readFileSync(file), type: 'application/octet-stream' } : null;
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('bundles without Node built-ins', () => {
    // The only Node import left is device.ts's dynamic import of node:fs, behind its Node-only branch.
    const staticNodeImports = script.match(/^import\s[^;]*from\s*["'](node:[^"']+|webgpu)["']/gm) ?? [];
    expect(staticNodeImports).toEqual([]);
  });

  it(`passes golden case "${CASE}" with the fp32 tolerances`, async () => {
    const page = await browser.newPage();
    const console: string[] = [];
    page.on('console', (m) => console.push(m.text()));
    page.on('pageerror', (e) => console.push(e.message));
    await page.goto(`${server.url}/?case=${CASE}`);
    await page.waitForFunction(() => 'modernbertResult' in window, null, { timeout: 100_000 });
    const result = await page.evaluate(() => (window as unknown as { modernbertResult: { adapter?: { swiftshader: boolean; vendor: string }; parity?: ParityResult; error?: string } }).modernbertResult);
    expect(result.error, `page error (console: ${console.join(' | ')})`).toBeUndefined();
    process.stdout.write(`browser adapter: ${JSON.stringify(result.adapter)}\nbrowser parity: ${JSON.stringify(result.parity)}\n`);
    const parity = result.parity!;
    expect(parity.backend).toBe('webgpu');
    expect(Object.keys(parity.max_abs_err).sort()).toEqual(['cls_logits', 'hidden_states', 'last_hidden_state', 'mean_logits', 'mlm_logits']);
    for (const [name, err] of Object.entries(parity.max_abs_err)) expect(err).toBeLessThanOrEqual(FP32_TOLERANCE[name]);
    expect(parity.pass).toBe(true);
  });
});
