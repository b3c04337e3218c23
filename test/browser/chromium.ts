// Headless Chromium with a SwiftShader WebGPU adapter (DESIGN §4), driven by playwright-core, and the static
// server on localhost for the pages it opens (benchmarks/browser/serve.ts, which the bench page uses too).
// Shared by the browser tests.
import { existsSync } from 'node:fs';
import { type Browser, type Locator, chromium } from 'playwright-core';

export { type StaticServer, serve } from '../../benchmarks/browser/serve.ts';

// Debian's chromium package: the binary itself (/usr/bin/chromium is a shell wrapper).
const CHROMIUM_PATHS = [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export const CHROMIUM_FLAGS = [
  '--headless',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // Root in a container has no sandbox to use.
  ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
];

export function chromiumPath(): string {
  const found = CHROMIUM_PATHS.find((p): p is string => !!p && existsSync(p));
  if (!found) throw new Error(`no Chromium found (looked in ${CHROMIUM_PATHS.filter(Boolean).join(', ')}): apt-get install chromium, or set CHROMIUM_PATH`);
  return found;
}

export function launchChromium(): Promise<Browser> {
  // playwright-core makes a fresh temporary profile per launch.
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_FLAGS, headless: true });
}

/**
 * How a plot was drawn, from the browser's layout: its series, its legend entries, and the pairs of legend entries
 * whose boxes overlap (none in a readable plot).
 */
export async function plotLayout(svg: Locator): Promise<{ series: number; legendEntries: number; overlapping: [number, number][] }> {
  const series = await svg.locator('g.series').count();
  const entries = await svg.locator('g.legend-entry').all();
  const boxes = (await Promise.all(entries.map((e) => e.boundingBox()))).map((b) => b!);
  const overlapping: [number, number][] = [];
  for (let a = 0; a < boxes.length; a++) {
    for (let b = a + 1; b < boxes.length; b++) {
      const [p, q] = [boxes[a], boxes[b]];
      const apart = p.y + p.height <= q.y + 0.5 || q.y + q.height <= p.y + 0.5 || p.x + p.width <= q.x || q.x + q.width <= p.x;
      if (!apart) overlapping.push([a, b]);
    }
  }
  return { series, legendEntries: entries.length, overlapping };
}
