// Runs one GEMM on SwiftShader through a Dawn instance with the dump_shaders toggle, which prints the WGSL of
// each pipeline and the SPIR-V that Tint made of it on stdout (gemm.test.ts reads it from a child process: the
// dump is Dawn's own output, not the script's). Usage:
//   node --import ./bin/register.js test/webgpu/dump-spirv.ts '<GemmTile as JSON>' <epilogue>
import { create, globals } from 'webgpu';
import { DAWN_TOGGLES, ensureRuntimeDir, type GpuContext } from '../../optimized/webgpu/device.ts';
import * as gemm from '../../optimized/webgpu/kernels/gemm.ts';
import { Launcher } from '../../optimized/webgpu/kernels/launch.ts';
import { BufferPool } from '../../optimized/webgpu/memory.ts';

const [tileJson, epilogue] = process.argv.slice(2) as [string, gemm.Epilogue];
const tile = JSON.parse(tileJson) as gemm.GemmTile;
await ensureRuntimeDir();
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
Object.assign(globalThis, globals);
// Kept in a module constant: a Dawn instance collected while its device lives crashes the process (see device.ts).
const gpu = create([`enable-dawn-features=${[...DAWN_TOGGLES, 'dump_shaders', 'disable_symbol_renaming'].join(',')}`]);
const adapter = await gpu.requestAdapter();
if (!adapter) throw new Error('no adapter');
const device = await adapter.requestDevice({ requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize } });
const ctx: GpuContext = { device, adapter: { vendor: '', architecture: '', description: '' }, swiftshader: true, features: { shaderF16: false, subgroups: false, timestampQuery: false, subgroupMatrix: false }, subgroupMatrix: null, subgroupMatrixReason: 'not asked for', check: () => {}, isLost: () => false };
const l = new Launcher(ctx, new BufferPool(device));
const [M, N, K] = [8, 8, 64];
const buffer = (floats: number, label: string) => l.upload(new Float32Array(floats), label);
gemm.run(l, { M, N, K, epilogue, x: buffer(M * K, 'x'), W: buffer(2 * N * K, 'W'), bias: null, residual: buffer(M * N, 'r'), y: l.pool.storage(M * N * 4, 'y'), variant: tile.kernel ?? 'v2', tile });
await l.finish([]);
device.destroy();
