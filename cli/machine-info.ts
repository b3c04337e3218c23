// What this machine can run (`modernbert info`): the package and Node versions, the CPU, and each backend with
// whether it runs here and how (the WebGPU adapter, its features and tuning, subgroup matrices, gpu.js's modes).
// Its own module: golden make reads it too, and the CLI's entry point imports the commands' files.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { type SubgroupMatrixConfig, configName, sharedDevice } from '../optimized/webgpu/device.ts';

export interface MachineInfo {
  modernbert: string;
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  backends: { name: string; available: boolean; detail: string }[];
  gpuAdapter: string | null;
  /** cooperative matrices (tensor cores): whether the adapter offers them and their shapes */
  subgroupMatrix: { available: boolean; configs: SubgroupMatrixConfig[]; detail: string } | null;
}

/** gpu.js: the mode auto selection picks (and why it fell back), and whether each forced mode runs. */
async function gpuJsModes(): Promise<MachineInfo['backends']> {
  const { GPUJS_MODES, createGpuJs } = await import('../optimized/gpujs/mode.ts');
  const rows: MachineInfo['backends'] = [];
  for (const mode of ['auto', ...GPUJS_MODES] as const) {
    const name = mode === 'auto' ? 'gpujs' : `gpujs:${mode}`;
    try {
      const ctx = await createGpuJs(mode);
      ctx.gpu.destroy();
      rows.push({ name, available: true, detail: mode === 'auto' ? `runs as gpujs:${ctx.mode}${ctx.fallback ? ` (fallback: ${ctx.fallback})` : ''}` : `gpu.js kernels as ${GPUJS_MODE_DETAIL[mode]}` });
    } catch (e) {
      rows.push({ name, available: false, detail: (e as Error).message });
    }
  }
  return rows;
}
const GPUJS_MODE_DETAIL = { webgpu: 'WGSL compute shaders', webasm: 'WebAssembly SIMD on worker threads', cpu: 'plain JavaScript' };

export async function machineInfo(): Promise<MachineInfo> {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const backends = [{ name: 'reference', available: true, detail: 'pure TypeScript on the CPU, fp32 and fp64' }];
  let gpuAdapter: string | null = null;
  let subgroupMatrix: MachineInfo['subgroupMatrix'] = null;
  try {
    const ctx = await sharedDevice();
    const { vendor, architecture, description } = ctx.adapter;
    gpuAdapter = [vendor, architecture, description].filter(Boolean).join(' / ') || 'unnamed adapter';
    if (ctx.swiftshader) gpuAdapter += ' (SwiftShader, a CPU implementation)';
    const features = Object.entries(ctx.features).filter(([, on]) => on).map(([name]) => name);
    const { loadTuning } = await import('../optimized/webgpu/tuning-cache.ts');
    const loaded = await loadTuning(ctx.adapter);
    const tuning = loaded.tuning ? `${loaded.tuning.gemm.length + loaded.tuning.attention.length} tuned kernel choices from ${loaded.source}` : 'default tiles (modernbert tune times others)';
    backends.push({ name: 'webgpu', available: true, detail: `WGSL kernels on ${gpuAdapter}; features: ${features.join(', ') || 'none'}; ${tuning}` });
    const sm = ctx.subgroupMatrix;
    subgroupMatrix = sm
      ? { available: true, configs: sm.configs, detail: `chromium-experimental-subgroup-matrix: ${sm.configs.map(configName).join(', ')}, subgroups of up to ${sm.subgroupMaxSize}; the engine's device comes from a Dawn instance with allow_unsafe_apis for it; with f16 storage every GEMM and attention runs on them (gemm sgmat, flash_sgmat; --gemm v4 --attention flash_v2 opt out), and modernbert tune picks their tiles` }
      : { available: false, configs: [], detail: `${ctx.subgroupMatrixReason ?? 'unknown'}; --gemm sgmat and --attention flash_sgmat run emulated in plain WGSL (for tests: slow)` };
  } catch (e) {
    backends.push({ name: 'webgpu', available: false, detail: (e as Error).message });
  }
  backends.push(...(await gpuJsModes()));
  return {
    modernbert: pkg.version,
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    backends,
    gpuAdapter,
    subgroupMatrix,
  };
}

