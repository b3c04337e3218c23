// The npm package, as a user gets it: `npm pack` (which builds dist/ first), the tarball installed into an empty
// folder, then plain `node app.mjs` (no TypeScript loader, no .wgsl hook) on the library and the CLI, and a
// TypeScript user's type-check against the declarations it ships.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
// A user's npm: without the npm_config_* settings that running under npm/npx passes down (this project's .npmrc
// makes unapproved install scripts an error; a user's folder has its own settings).
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_config_')));
const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 240_000, env: userEnv });

describe('the npm package', () => {
  it('packs under 5 MB with no tests, reports or sources, installs into an empty folder, and runs with plain node', () => {
    const dir = tempDir();
    const packed = npm(['pack', '--pack-destination', dir], ROOT);
    expect(packed.status, packed.stderr).toBe(0);
    const [tarball] = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
    expect(statSync(join(dir, tarball)).size).toBeLessThan(5 * 2 ** 20);
    const listed = execFileSync('tar', ['-tzf', join(dir, tarball)], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toContain('package/dist/index.js');
    expect(listed).toContain('package/dist/cli.js');
    expect(listed).toContain('package/dist/types/tasks/index.d.ts');
    // the tokenizer that example-checkpoint writes is the only data; no test, fixture case, report or .ts source
    expect(listed.filter((f) => f.startsWith('package/test/') && !f.startsWith('package/test/fixtures/tokenizer/modernbert/'))).toEqual([]);
    expect(listed.filter((f) => f.startsWith('package/reports/') || f.startsWith('package/benchmarks/') || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.wgsl'))).toEqual([]);

    const app = join(dir, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const installed = npm(['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball)], app);
    expect(installed.status, installed.stderr).toBe(0);

    // The CLI from the package's bin, then the library on what it wrote: each process exits by itself.
    const cli = spawnSync(join(app, 'node_modules', '.bin', 'modernbert'), ['example-checkpoint', 'model'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toBe('wrote model (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)\n');
    writeFileSync(
      join(app, 'app.mjs'),
      `import { loadModel } from 'modernbert-ts';
for (const backend of ['reference', 'webgpu']) {
  const model = await loadModel('model', { backend });
  const [embedding] = await model.embed(['hello world']);
  console.log(model.backend, embedding.length, embedding[0].toFixed(5));
  model.dispose();
}
`,
    );
    const run = spawnSync(process.execPath, ['app.mjs'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    // the WGSL kernels travel inlined: the webgpu backend runs and agrees with the reference
    const [reference, webgpu] = run.stdout.trim().split('\n').map((l) => l.split(' '));
    expect(reference.slice(0, 2)).toEqual(['reference', '64']);
    expect(webgpu.slice(0, 2)).toEqual(['webgpu', '64']);
    expect(Math.abs(Number(reference[2]) - Number(webgpu[2]))).toBeLessThan(1e-4);

    // A TypeScript user: the declarations type-check a correct program, and catch a wrong one.
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'es2023', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: [] }, files: ['app.ts'] }));
    const program = `import { type ModernBertPipeline, ModelInputError, loadModel, releaseDevices } from 'modernbert-ts';
const model: ModernBertPipeline = await loadModel('model', { backend: 'reference' });
const embeddings: Float32Array[] = await model.embed(['hello world'], { normalize: true });
const predictions = await model.fillMask('Paris is the [MASK] of France.', { topK: 3 });
console.log(embeddings[0].length, predictions.map((p) => p.token), ModelInputError.name);
model.dispose();
await releaseDevices();
`;
    const tsc = (source: string) => {
      writeFileSync(join(app, 'app.ts'), source);
      return spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { encoding: 'utf8' });
    };
    const good = tsc(program);
    expect(good.status, good.stdout + good.stderr).toBe(0);
    const bad = tsc(program + "const wrong: string = embeddings;\n");
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/app\.ts\(8,7\): error TS2322: Type 'Float32Array<ArrayBufferLike>\[\]' is not assignable to type 'string'/);
  }, 300_000);
});
