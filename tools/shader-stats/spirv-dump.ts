// The child process of stats.ts: makes each kernel's compute pipeline on a Dawn device whose instance has
// the dump_shaders toggle, so that Dawn prints on stdout the SPIR-V Tint made of it (override constants already
// substituted). Dawn prints the dump while the pipeline is made, so each kernel's dump lies between the lines
// `@@kernel <i>` and `@@done <i>` (or `@@error <i> <message>`) that this script writes around it. Progress goes
// to stderr (`dawn: <kernel> (<seconds> s)`). The parent sets VK_ICD_FILENAMES to SwiftShader's ICD.
//   node --import ./bin/register.js tools/shader-stats/spirv-dump.ts KERNELS.json
// KERNELS.json: [{"kernel": label, "source": WGSL, "constants": {...}}, ...]
import { readFileSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { DAWN_TOGGLES, ensureRuntimeDir } from '../../optimized/webgpu/device.ts';

interface DumpRequest {
  kernel: string;
  source: string;
  constants: Record<string, number>;
}

const kernels = JSON.parse(readFileSync(process.argv[2], 'utf8')) as DumpRequest[];
await ensureRuntimeDir();
Object.assign(globalThis, globals);
// Kept in a module constant: a Dawn instance collected while its device lives crashes the process (see device.ts).
const gpu = create([`enable-dawn-features=${[...DAWN_TOGGLES, 'dump_shaders', 'disable_symbol_renaming'].join(',')}`]);
const adapter = await gpu.requestAdapter();
if (!adapter) throw new Error(`no WebGPU adapter (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? ''})`);
const { limits } = adapter;
const device = await adapter.requestDevice({
  requiredLimits: {
    maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
  },
});
const line = (s: string) => process.stdout.write(s + '\n');
for (const [i, k] of kernels.entries()) {
  const start = performance.now();
  line(`@@kernel ${i}`);
  device.pushErrorScope('validation');
  // As the engine's Launcher makes it: an automatic layout, entry point main, the override constants.
  const module = device.createShaderModule({ code: k.source, label: k.kernel });
  device.createComputePipeline({ layout: 'auto', label: k.kernel, compute: { module, entryPoint: 'main', constants: k.constants } });
  const error = await device.popErrorScope();
  line(error ? `@@error ${i} ${error.message.replace(/\s*\n\s*/g, ' | ')}` : `@@done ${i}`);
  process.stderr.write(`dawn: ${k.kernel} (${((performance.now() - start) / 1000).toFixed(1)} s)\n`);
}
device.destroy();
