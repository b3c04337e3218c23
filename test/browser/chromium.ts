// Headless Chromium with a SwiftShader WebGPU adapter (DESIGN §4), driven by playwright-core, and the static
// server on localhost for the pages it opens (benchmarks/browser/serve.ts, which the bench page uses too).
// Shared by the browser tests.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

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
