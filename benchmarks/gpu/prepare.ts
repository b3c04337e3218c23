// Prepares what a GPU machine needs to run the benchmark with no package registry (DESIGN §6), all small
// enough to travel with the working tree (under 64 MiB):
//   benchmarks/bench.bundle.mjs   npm run bench as one file (the `webgpu` package stays external)
//   benchmarks/peers/transformersjs.bundle.mjs
//                                 the transformers.js peer as one file (transformers.js inside; onnxruntime-node
//                                 and onnxruntime-common stay external)
//   cli/modernbert.bundle.mjs     the modernbert CLI as one file (eval parity on the GPU)
//   gpu-payload/                  webgpu's JS and its Linux Dawn binary (xz), onnxruntime-node's JS and its
//                                 Linux binaries (ONNX Runtime with its WebGPU provider, xz) and
//                                 onnxruntime-common, node itself (xz, unless --no-node), and Debian's Vulkan
//                                 loader and glvnd packages when apt-get can download them
// Then, on the GPU machine: bash benchmarks/gpu/run.sh [bench options]. Both bundles sit beside the sources
// they replace, so their paths to the project (golden cases, peers, reports/) stay the same.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Plugin, build } from 'esbuild';
import { PROJECT_ROOT, packageVersion } from '../environment.ts';

const PAYLOAD = join(PROJECT_ROOT, 'gpu-payload');
const withNode = !process.argv.includes('--no-node');

function xz(from: string, to: string): void {
  const r = spawnSync('sh', ['-c', `xz -9 -T2 -c "${from}" > "${to}"`], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`xz ${from} failed (exit ${r.status}): apt-get install xz-utils`);
}

rmSync(PAYLOAD, { recursive: true, force: true });
mkdirSync(join(PAYLOAD, 'webgpu', 'dist'), { recursive: true });

// Package versions are read from node_modules at run time; the GPU machine has none, so bake them in.
const versions = Object.fromEntries(['webgpu', 'tinybench', '@huggingface/transformers'].map((n) => [n, packageVersion(n)]));
const common = {
  bundle: true,
  platform: 'node' as const,
  format: 'esm' as const,
  target: 'node20',
  loader: { '.wgsl': 'text' as const },
  external: ['webgpu', '@huggingface/transformers'],
  define: { 'process.env.MODERNBERT_BUNDLED_VERSIONS': JSON.stringify(JSON.stringify(versions)) },
  // ESM bundles of CommonJS dependencies need require().
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning' as const,
};
await build({ ...common, entryPoints: [join(PROJECT_ROOT, 'benchmarks', 'run.ts')], outfile: join(PROJECT_ROOT, 'benchmarks', 'bench.bundle.mjs') });
// transformers.js's Node build imports sharp (images, a large native module) at its top; text models never call it.
const sharpStandIn: Plugin = {
  name: 'sharp-stand-in',
  setup(b) {
    b.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'stand-in' }));
    b.onLoad({ filter: /.*/, namespace: 'stand-in' }, () => ({ contents: "export default function sharp() { throw new Error('sharp (images) is not in the GPU bundle'); }", loader: 'js' }));
  },
};
await build({
  ...common,
  entryPoints: [join(PROJECT_ROOT, 'benchmarks', 'peers', 'transformersjs.ts')],
  outfile: join(PROJECT_ROOT, 'benchmarks', 'peers', 'transformersjs.bundle.mjs'),
  external: ['webgpu', 'onnxruntime-node', 'onnxruntime-common'],
  plugins: [sharpStandIn],
});
await build({
  ...common,
  stdin: { contents: "import { exitOnSignals, main } from './cli/modernbert.ts';\nexitOnSignals();\nprocess.exitCode = await main(process.argv.slice(2));\n", resolveDir: PROJECT_ROOT, loader: 'ts' },
  outfile: join(PROJECT_ROOT, 'cli', 'modernbert.bundle.mjs'),
});

const webgpu = join(PROJECT_ROOT, 'node_modules', 'webgpu');
for (const f of ['package.json', 'index.js']) copyFileSync(join(webgpu, f), join(PAYLOAD, 'webgpu', f));
xz(join(webgpu, 'dist', 'linux-x64.dawn.node'), join(PAYLOAD, 'webgpu', 'dist', 'linux-x64.dawn.node.xz'));
// onnxruntime-node (its JS and its Linux x64 binaries: the binding and libonnxruntime.so.1, with Dawn and the WebGPU
// provider inside) and onnxruntime-common, which it and transformers.js import.
const ortNode = join(PROJECT_ROOT, 'node_modules', 'onnxruntime-node');
const ortBin = join('bin', 'napi-v6', 'linux', 'x64');
mkdirSync(join(PAYLOAD, 'onnxruntime-node', ortBin), { recursive: true });
copyFileSync(join(ortNode, 'package.json'), join(PAYLOAD, 'onnxruntime-node', 'package.json'));
cpSync(join(ortNode, 'dist'), join(PAYLOAD, 'onnxruntime-node', 'dist'), { recursive: true, filter: (f) => !f.endsWith('.map') && !f.endsWith('.d.ts') });
copyFileSync(join(ortNode, ortBin, 'onnxruntime_binding.node'), join(PAYLOAD, 'onnxruntime-node', ortBin, 'onnxruntime_binding.node'));
xz(join(ortNode, ortBin, 'libonnxruntime.so.1'), join(PAYLOAD, 'onnxruntime-node', ortBin, 'libonnxruntime.so.1.xz'));
const ortCommon = join(PROJECT_ROOT, 'node_modules', 'onnxruntime-common');
mkdirSync(join(PAYLOAD, 'onnxruntime-common'));
copyFileSync(join(ortCommon, 'package.json'), join(PAYLOAD, 'onnxruntime-common', 'package.json'));
cpSync(join(ortCommon, 'dist'), join(PAYLOAD, 'onnxruntime-common', 'dist'), { recursive: true, filter: (f) => !f.endsWith('.map') && !f.endsWith('.d.ts') });
if (withNode) xz(process.execPath, join(PAYLOAD, 'node.xz'));
// The Vulkan loader, and glvnd's libraries that NVIDIA's driver (libGLX_nvidia.so.0, its Vulkan ICD) links to.
const LOADER_PACKAGES = ['libvulkan1', 'libglvnd0', 'libglx0', 'libegl1', 'libgl1', 'libopengl0', 'libgles2'];
const apt = spawnSync('apt-get', ['download', ...LOADER_PACKAGES], { cwd: PAYLOAD, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (apt.status !== 0) process.stderr.write(`note: apt-get download ${LOADER_PACKAGES.join(' ')} failed (${apt.stderr.trim().split('\n').at(-1)}); run.sh then needs the GPU machine's own Vulkan loader\n`);

const size = (p: string): number => {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return spawnSync('du', ['-sb', p], { encoding: 'utf8' }).stdout.split('\t').map(Number)[0];
};
const carried = ['benchmarks/bench.bundle.mjs', 'benchmarks/peers/transformersjs.bundle.mjs', 'cli/modernbert.bundle.mjs', 'gpu-payload'];
const total = carried.reduce((sum, p) => sum + size(join(PROJECT_ROOT, p)), 0);
process.stdout.write(`prepared ${carried.join(', ')}: ${(total / 2 ** 20).toFixed(1)} MiB (carry these; node ${withNode ? 'included' : 'not included'})\n`);
if (total > 64 * 2 ** 20) throw new Error('the payload exceeds 64 MiB');
