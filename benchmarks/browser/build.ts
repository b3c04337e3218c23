// Builds the browser bench page (index.html, one ES module, page.js, and ONNX Runtime Web's WebAssembly binary for
// the peer) and serves it on localhost:
//   npm run bench:browser -- [--out DIR] [--port N] [--no-serve]
// The page runs the WebGPU engine on the visitor's navigator.gpu; its downloaded *.results.json merges into the
// leaderboard with `npm run report`. WebGPU needs a secure context and module scripts are not loaded from
// file:// URLs, hence the server (any static server will do). Exit 0, 1 when the build fails, 2 on bad arguments.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Plugin, build } from 'esbuild';
import { PROJECT_ROOT, gitCommit } from '../environment.ts';
import { RESULTS_CSS } from '../../reports/tables.ts';
import { type StaticServer, serve } from './serve.ts';

export const DEFAULT_OUT = join(PROJECT_ROOT, '.bench-page');

const USAGE = 'usage: npm run bench:browser -- [--out DIR (default .bench-page)] [--port N (default: a free one)] [--no-serve]';

// The binary of the ONNX Runtime Web build that page.js bundles: onnxruntime-web/webgpu (its default export
// condition, ort.webgpu.bundle.min.mjs, has the WebGPU provider's JavaScript glue inside) runs the asyncify build.
const ORT_WASM = 'ort-wasm-simd-threaded.asyncify.wasm';

// The files a built page consists of, and their content types (application/wasm lets the browser compile the
// binary as it downloads).
const PAGE_FILES: Record<string, string> = { 'index.html': 'text/html; charset=utf-8', 'page.js': 'text/javascript; charset=utf-8', [ORT_WASM]: 'application/wasm' };

/**
 * Node built-ins and Dawn stay out of a browser bundle: the engine reaches them only through dynamic imports
 * behind its Node-only branches, and a Node-only helper in a shared module (reports/format.ts's file writer)
 * is never called on a page. Marked free of side effects, a static import nothing uses is dropped.
 */
const nodeOnly: Plugin = {
  name: 'node-only',
  setup(b) {
    b.onResolve({ filter: /^(node:|webgpu$)/ }, (args) => ({ path: args.path, external: true, sideEffects: false }));
  },
};

/** `entry` as the browser gets it: one ES module, shaders inlined as text; `define` replaces global names. */
export async function bundleForBrowser(entry: string, define: Record<string, string> = {}): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    loader: { '.wgsl': 'text' },
    plugins: [nodeOnly],
    // The csv packages' Node builds use Buffer; they ship browser builds (with a Buffer of their own) as well.
    alias: { 'csv-parse/sync': 'csv-parse/browser/esm/sync', 'csv-stringify/sync': 'csv-stringify/browser/esm/sync' },
    define,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/** Writes the page into `out` (created if needed); returns the files written. */
export async function buildBenchPage(out: string): Promise<string[]> {
  const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  const script = await bundleForBrowser(join(import.meta.dirname, 'page.ts'), { BENCH_PAGE_COMMIT: JSON.stringify(gitCommit()), BENCH_PAGE_VERSION: JSON.stringify(version), BENCH_PAGE_ORT_WASM: JSON.stringify(ORT_WASM) });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'page.js'), script);
  copyFileSync(createRequire(import.meta.url).resolve(`onnxruntime-web/${ORT_WASM}`), join(out, ORT_WASM));
  // The tables and plots look as on the leaderboard: its styles go where index.html marks them.
  const html = readFileSync(join(import.meta.dirname, 'index.html'), 'utf8');
  const marker = /^\/\* RESULTS_CSS: .*\*\/$/m;
  if (!marker.test(html)) throw new Error('benchmarks/browser/index.html: the RESULTS_CSS marker is missing');
  writeFileSync(join(out, 'index.html'), html.replace(marker, () => RESULTS_CSS));
  return Object.keys(PAGE_FILES).map((f) => join(out, f));
}

/** Serves a built page from `dir` on 127.0.0.1 (port 0: a free one). */
export function servePage(dir: string, port = 0): Promise<StaticServer> {
  return serve((path) => {
    const name = path === '/' ? 'index.html' : path.slice(1);
    return Object.hasOwn(PAGE_FILES, name) ? { body: readFileSync(join(dir, name)), type: PAGE_FILES[name] } : null;
  }, port);
}

/** The command line: builds, then serves (the open server keeps the process running until Ctrl-C). Returns the exit code. */
export async function main(argv: string[], stdout: (line: string) => void = console.log, stderr: (line: string) => void = console.error): Promise<number> {
  let values: { out: string; port: string; serve: boolean; help: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: { out: { type: 'string', default: DEFAULT_OUT }, port: { type: 'string', default: '0' }, serve: { type: 'boolean', default: true }, help: { type: 'boolean', short: 'h', default: false } },
      allowNegative: true,
      strict: true,
      allowPositionals: false,
    }).values as typeof values;
  } catch (e) {
    stderr(`bench:browser: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    stdout(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    stderr(`bench:browser: --port ${values.port}: not a port number (0 to 65535)\n${USAGE}`);
    return 2;
  }
  const out = resolve(values.out);
  try {
    for (const file of await buildBenchPage(out)) stdout(`wrote ${file}`);
  } catch (e) {
    stderr(`bench:browser: the build failed: ${(e as Error).message}`);
    return 1;
  }
  if (!values.serve) return 0;
  let server: StaticServer;
  try {
    server = await servePage(out, port);
  } catch (e) {
    stderr(`bench:browser: cannot serve on 127.0.0.1:${port}: ${(e as Error).message} (--port 0 takes a free port)`);
    return 1;
  }
  stdout(`bench page: ${server.url}/ (Ctrl-C stops the server)`);
  stdout(`a short run: ${server.url}/?config=small&workload=fixed_short&tokens=2048&runs=3&autostart=1`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
