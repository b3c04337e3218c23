// Headless Chromium with a SwiftShader WebGPU adapter (DESIGN §4), driven by playwright-core, and a static
// server on localhost for the pages it opens. Shared by the browser tests.
import { existsSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';

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

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `routes(path)` (bytes and a content type, or null for 404) on 127.0.0.1 at a free port. */
export async function serve(routes: (path: string) => { body: Uint8Array | string; type: string } | null): Promise<StaticServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = routes(decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname));
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': route.type }).end(route.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
