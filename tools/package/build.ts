// `npm run build` (and `npm pack`, through prepack): the npm package's dist/, what an installed modernbert-ts runs
// with plain Node (no TypeScript loader, no .wgsl hook):
//   dist/index.js   the library (tasks/index.ts: loadModel, the pipelines, releaseDevices), ESM
//   dist/cli.js     the CLI (cli/modernbert.ts), which bin/modernbert.js runs when there are no sources beside it
//   dist/*.js       chunks the two share, and what they load on demand (the engines)
//   dist/tuned/     the committed tuning tables, where tuning-cache.ts looks beside its code
//   dist/types/     type declarations of the library
// esbuild bundles the sources with the WGSL kernels inlined as text; every package dependency stays an import.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(import.meta.dirname, '..', '..');
const DIST = join(ROOT, 'dist');

rmSync(DIST, { recursive: true, force: true });
await build({
  entryPoints: { index: join(ROOT, 'tasks', 'index.ts'), cli: join(ROOT, 'cli', 'modernbert.ts') },
  outdir: DIST,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
});
cpSync(join(ROOT, 'optimized', 'webgpu', 'tuned'), join(DIST, 'tuned'), { recursive: true });

const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tools', 'package', 'tsconfig.json')], { encoding: 'utf8' });
if (tsc.status !== 0) throw new Error(`tsc (declarations) failed:\n${tsc.stdout}${tsc.stderr}`);
// The sources import each other as .ts (allowImportingTsExtensions); declarations beside .d.ts files import .js.
for (const file of files(join(DIST, 'types')).filter((f) => f.endsWith('.d.ts'))) {
  writeFileSync(file, readFileSync(file, 'utf8').replace(/(from\s+'\.{1,2}\/[^']*)\.ts'/g, "$1.js'").replace(/(import\(\s*'\.{1,2}\/[^']*)\.ts'/g, "$1.js'"));
}
const bytes = files(DIST).reduce((n, f) => n + statSync(f).size, 0);
process.stdout.write(`built dist/: ${files(DIST).length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB\n`);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}
