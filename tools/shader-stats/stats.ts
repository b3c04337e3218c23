// `modernbert kernels --stats`: every kernel variant the engine can dispatch for ModernBERT base and large,
// compiled by a real GPU compiler on a machine with no GPU, with the registers, spills, scratch and occupancy
// that compiler reports (DESIGN §5, "Seeing a kernel's cost without a GPU").
//
// The route: the variants are recorded from the engine's own code (its forward pass and launchers, through a
// Launcher that keeps each pipeline's WGSL and override constants instead of dispatching it, plus the tuner's
// candidate tiles); Dawn turns each into SPIR-V on SwiftShader and prints it (the dump_shaders toggle, in a
// child process: spirv-dump.ts); spirv-as (spirv-tools) assembles that text; and tools/shader-stats/shader_stats.c
// compiles the binary on Mesa's RADV with no hardware (RADV_FORCE_FAMILY), whose compiler is AMD's production
// one (ACO), printing the statistics it reports. RADV's variables are set only in that C program's
// environment: Dawn would pick RADV's device there and crash in requestDevice.
//
// It is AMD's compiler standing in for NVIDIA's: a kernel that spills there is suspect everywhere; one that does
// not may still be slow.
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ATTENTION_SPACE, GEMM_SPACE, gemmShapes, splitKTiles } from '../../benchmarks/tune.ts';
import { presetConfig } from '../../reference/config.ts';
import { ensureRuntimeDir, type GpuContext } from '../../optimized/webgpu/device.ts';
import * as attention from '../../optimized/webgpu/kernels/attention.ts';
import * as gemm from '../../optimized/webgpu/kernels/gemm.ts';
import { type Kernel, Launcher } from '../../optimized/webgpu/kernels/launch.ts';
import { type DType, bytesOf } from '../../optimized/webgpu/kernels/storage.ts';
import { BufferPool } from '../../optimized/webgpu/memory.ts';
import { type WebGpuModel, forward, planningModel } from '../../optimized/webgpu/modernbert.ts';
import { kernelLabel } from '../../optimized/webgpu/profile.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HELPER_SOURCE = join(ROOT, 'tools/shader-stats/shader_stats.c');

export const FAMILIES = ['navi21', 'aldebaran'] as const;
export type Family = (typeof FAMILIES)[number];

/**
 * Occupancy from the VGPR count, as LLVM's AMDGPU backend computes it (llvm/lib/Target/AMDGPU/Utils/
 * AMDGPUBaseInfo.cpp: getTotalNumVGPRs, getVGPRAllocGranule, getMaxWavesPerEU, getNumWavesPerEUWithNumVGPRs):
 * waves per SIMD = min(max waves, floor(VGPRs per lane of the SIMD / the wave's VGPRs rounded up to the
 * allocation granule)). navi21 (gfx1030, RDNA2): 1024 VGPRs per lane for wave32, 512 for wave64 (the same 128 KiB
 * file per SIMD32), granule 16 / 8, at most 16 waves. aldebaran (gfx90a, CDNA2, MI200): wave64 only, 512 VGPRs
 * per lane (one file for VGPRs and AGPRs), granule 8, at most 8 waves.
 */
export const OCCUPANCY: Record<Family, { chip: string; maxWaves: number; perWaveSize: Record<number, { vgprs: number; granule: number }> }> = {
  navi21: { chip: 'gfx1030, RDNA2', maxWaves: 16, perWaveSize: { 32: { vgprs: 1024, granule: 16 }, 64: { vgprs: 512, granule: 8 } } },
  aldebaran: { chip: 'gfx90a, CDNA2', maxWaves: 8, perWaveSize: { 64: { vgprs: 512, granule: 8 } } },
};

export function wavesPerSimd(family: Family, vgprs: number, waveSize: number): number {
  const { maxWaves, perWaveSize } = OCCUPANCY[family];
  const budget = perWaveSize[waveSize];
  if (!budget) throw new Error(`${family}: no VGPR budget for a wave of ${waveSize}`);
  if (vgprs < budget.granule) return maxWaves;
  const allocated = Math.ceil(vgprs / budget.granule) * budget.granule;
  return Math.min(maxWaves, Math.max(1, Math.floor(budget.vgprs / allocated)));
}

/** A pipeline the engine can make: its WGSL and override constants. */
export interface KernelVariant {
  /** the kernel's name and override constants, as `modernbert profile` names it */
  kernel: string;
  source: string;
  constants: Record<string, number>;
  /** dispatched by the engine with no tuning cache (ModernBERT base or large, f32 or f16 storage) */
  default: boolean;
}

/** One kernel compiled for one chip: the keys of `kernels --stats --json`, in this order. */
export interface KernelStats {
  kernel: string;
  family: Family;
  default: boolean;
  vgprs: number;
  sgprs: number;
  spilled_vgprs: number;
  spilled_sgprs: number;
  /** private memory per wave (spills and private arrays the compiler could not keep in registers) */
  scratch_bytes: number;
  code_bytes: number;
  waves_per_simd: number;
}

// ---- The variants, recorded from the engine's own code ----

/**
 * The limits the default tiles are chosen under (the large GeGLU tile's TK halves under 17,152 bytes of workgroup
 * memory): what Dawn grants on SwiftShader, and room enough for the H200 run, whose GeGLU tile ran at TK 16.
 */
const ENGINE_LIMITS = { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256, minUniformBufferOffsetAlignment: 256 };

/** A context with only what the launchers read to choose a kernel: the limits. */
function limitsOnlyContext(): GpuContext {
  return {
    device: { limits: ENGINE_LIMITS } as unknown as GPUDevice, // nothing else of it is touched: RecordingLauncher dispatches nothing
    adapter: { vendor: '', architecture: '', description: 'kernel enumeration (no device)' },
    swiftshader: false,
    features: { shaderF16: false, subgroups: false, timestampQuery: false, subgroupMatrix: false },
    subgroupMatrix: null,
    subgroupMatrixReason: 'kernel enumeration: the subgroup-matrix GEMM needs an adapter that lists its shapes',
    check: () => {},
    isLost: () => false,
  };
}

/** A launcher that records each pipeline (kernel and override constants) instead of dispatching it; buffers are a planning pool's. */
class RecordingLauncher extends Launcher {
  readonly pipelines = new Map<string, { source: string; constants: Record<string, number> }>();

  constructor(pool: BufferPool) {
    super(limitsOnlyContext(), pool);
  }

  override dispatch(kernel: Kernel, constants: Record<string, number>): void {
    const label = kernelLabel({ kernel: kernel.name, constants });
    if (!this.pipelines.has(label)) this.pipelines.set(label, { source: kernel.source, constants });
  }

  override upload(data: ArrayBufferView, label: string, kind: 'weight' | 'activation' = 'activation'): GPUBuffer {
    return this.pool.storage(data.byteLength, label, kind);
  }

  override async finish(reads: { buffer: GPUBuffer; floats: number }[]): Promise<Float32Array[]> {
    this.abandon(); // nothing ran: close the pass's books
    return reads.map(() => new Float32Array(0));
  }
}

/** A planning model of a preset (with a classification head, which the MLM placeholder lacks) on a recording launcher. */
function recordingModel(configName: string, dtype: DType): WebGpuModel & { launcher: RecordingLauncher } {
  const planned = planningModel(presetConfig(configName), dtype);
  const { config, pool } = planned;
  const classifier = {
    weight: pool.storage(config.numLabels * config.hiddenSize * bytesOf(dtype), 'classifier.weight', 'weight'),
    bias: pool.storage(config.numLabels * 4, 'classifier.bias', 'weight'),
    outFeatures: config.numLabels,
    inFeatures: config.hiddenSize,
  };
  return { ...planned, weights: { ...planned.weights, classifier }, launcher: new RecordingLauncher(pool) };
}

const CONFIGS = ['base', 'large'];
const DTYPES: DType[] = ['f32', 'f16'];
/** The tuner's token counts; the default GEMM tiles change with the rows (the large tile where its grid fills a big GPU). */
const TOKENS = [512, 8192];

/**
 * The kernel variants of ModernBERT base and large. `defaults`: what a forward pass dispatches with no tuning
 * cache (every head, f32 and f16 storage, 512 and 8192 tokens). `full` adds what the engine can dispatch
 * otherwise: every candidate of the tuner (GEMM tiles of v2 and v3, split-K with gemm_reduce, flash-attention
 * tiles), the benchmarks' baselines (GEMM v1 and naive, flash attention v1) and materialized attention. Not
 * included: the subgroup-matrix GEMM (it needs an adapter listing its shapes; SwiftShader has none).
 */
export async function kernelVariants(space: 'defaults' | 'full'): Promise<KernelVariant[]> {
  const found = new Map<string, KernelVariant>();
  const keep = (l: RecordingLauncher, isDefault: boolean) => {
    for (const [kernel, p] of l.pipelines) {
      const seen = found.get(kernel);
      if (seen) seen.default ||= isDefault;
      else found.set(kernel, { kernel, ...p, default: isDefault });
    }
  };
  for (const configName of CONFIGS) {
    for (const dtype of DTYPES) {
      for (const T of TOKENS) {
        const model = recordingModel(configName, dtype);
        await forward(model, [new Int32Array(T)], { mlmLogits: true, pooling: ['cls', 'mean'], tokenLogits: true });
        keep(model.launcher, true);
      }
    }
  }
  if (space === 'defaults') return [...found.values()];

  for (const configName of CONFIGS) {
    const materialized = recordingModel(configName, 'f32');
    await forward(materialized, [new Int32Array(TOKENS[0])], { attention: 'materialized' });
    keep(materialized.launcher, false);
    const config = presetConfig(configName);
    const l = new RecordingLauncher(new BufferPool(null));
    const buffer = (label: string) => l.pool.storage(16, label);
    const [x, W, bias, residual, y] = ['x', 'W', 'bias', 'residual', 'y'].map(buffer);
    for (const T of TOKENS) {
      for (const dtype of DTYPES) {
        for (const shape of gemmShapes(config, T, dtype)) {
          const fallback = gemm.defaultTile(shape, ENGINE_LIMITS.maxComputeWorkgroupStorageSize);
          for (const tile of [fallback, ...GEMM_SPACE, ...splitKTiles(shape, fallback, 'full')]) {
            refusable(() => gemm.run(l, { ...shape, x, W, bias, residual, y, variant: tile.kernel ?? 'v2', tile }));
          }
          if (dtype === 'f32') {
            gemm.run(l, { ...shape, x, W, bias, residual, y, variant: 'v1' });
            if (shape.epilogue !== 'glu') gemm.run(l, { ...shape, x, W, bias, residual, y, variant: 'naive' }); // naive has no GLU
          }
        }
      }
      // The heads' activation epilogue, on the baselines (the tiled kernels' are among the defaults)
      gemm.run(l, { M: T, N: config.hiddenSize, K: config.hiddenSize, epilogue: 'activation', activation: config.classifierActivation, x, W, bias, residual, y, variant: 'v1' });
    }
    const [qkv, cuSeqlens, out] = ['qkv', 'cuSeqlens', 'out'].map(buffer);
    const head = { qkv, cuSeqlens, out, lengths: [TOKENS[0]], maxSeqlen: TOKENS[0], H: config.numAttentionHeads, D: config.headDim, window: [-1, -1] as const };
    for (const dtype of DTYPES) {
      const fallback = attention.flashV2Tiles(config.headDim, ENGINE_LIMITS.maxComputeWorkgroupStorageSize);
      for (const tiles of [fallback, ...ATTENTION_SPACE]) refusable(() => attention.run(l, { ...head, dtype, variant: 'flash_v2', tiles }));
    }
    attention.run(l, { ...head, variant: 'flash_v1' });
    keep(l, false);
  }
  return [...found.values()];
}

/**
 * Runs a launcher on one of the tuner's candidates. A candidate the launcher refuses for the shape (over a limit,
 * against a tile rule) is never dispatched: the tuner leaves it out too.
 */
function refusable(run: () => void): void {
  try {
    run();
  } catch {
    // refused: not a variant the engine can dispatch
  }
}

// ---- The tools, and the C program ----

/** What kernels --stats runs, and the Debian package that provides it. */
const TOOLS: { package: string; what: string; present: () => boolean }[] = [
  { package: 'gcc', what: 'a C compiler (cc) to build tools/shader-stats/shader_stats.c', present: () => onPath('cc') },
  { package: 'libvulkan-dev', what: 'the Vulkan headers and loader library it links with', present: () => ['/usr/include', '/usr/local/include'].some((d) => existsSync(join(d, 'vulkan/vulkan.h'))) },
  { package: 'spirv-tools', what: 'spirv-as, which assembles the SPIR-V text Dawn prints', present: () => onPath('spirv-as') },
  { package: 'mesa-vulkan-drivers', what: "Mesa's RADV Vulkan driver (its radeon ICD), the compiler", present: () => radeonIcd() !== null },
  { package: 'chromium', what: "SwiftShader's Vulkan ICD, on which Dawn makes the SPIR-V", present: () => swiftshaderIcd() !== null },
];

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, command)));
}

function icdIn(dirs: string[], pattern: RegExp): string | null {
  for (const dir of dirs) {
    const name = existsSync(dir) ? readdirSync(dir).find((f) => pattern.test(f)) : undefined;
    if (name) return join(dir, name);
  }
  return null;
}

function radeonIcd(): string | null {
  return icdIn(['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'], /^radeon_icd\..*\.json$/);
}

// Where Debian's chromium ships SwiftShader's ICD (as device.ts looks for it).
function swiftshaderIcd(): string | null {
  return icdIn(['/usr/lib/chromium', '/usr/lib64/chromium'], /^vk_swiftshader_icd\.json$/);
}

/** Throws one error naming every missing Debian package (of those `which` names), and what each is for. */
export function requireTools(which: string[] = TOOLS.map((t) => t.package)): void {
  const missing = TOOLS.filter((t) => which.includes(t.package) && !t.present());
  if (missing.length) {
    throw new Error(`missing ${missing.map((t) => `${t.what} (Debian package ${t.package})`).join('; ')}: apt-get install ${missing.map((t) => t.package).join(' ')}`);
  }
}

/** Where the built C program lives: a cache folder outside the tree, one build per version of its source. */
export function helperPath(): string {
  const hash = createHash('sha256').update(readFileSync(HELPER_SOURCE)).digest('hex').slice(0, 12);
  return join(process.env.HOME ?? tmpdir(), '.cache/modernbert-ts/shader-stats', hash, 'shader_stats');
}

/** Builds tools/shader-stats/shader_stats.c unless this version of it is built; returns the program's path. */
export function buildHelper(): string {
  const binary = helperPath();
  if (existsSync(binary)) return binary;
  requireTools(['gcc', 'libvulkan-dev']);
  mkdirSync(dirname(binary), { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`; // renamed when complete: a concurrent build never runs half a file
  const r = spawnSync('cc', ['-O2', '-std=c11', '-Wall', '-o', partial, HELPER_SOURCE, '-lvulkan'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building ${HELPER_SOURCE} failed (it needs gcc and libvulkan-dev): ${(r.stderr || r.error?.message || '').trim()}`);
  renameSync(partial, binary);
  return binary;
}

// ---- SPIR-V from Dawn, statistics from RADV ----

/** The environment of a child process with no Vulkan driver choice of the caller's (no RADV or ICD variables). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(RADV_|VK_ICD_FILENAMES$|VK_DRIVER_FILES$)/.test(k)));
  return { ...env, ...extra };
}

/** A kernel's SPIR-V as Dawn dumped it: the text's file, and its SPIR-V version (from the dump's header). */
interface Dump {
  file: string;
  version: string;
}

/**
 * Each kernel's SPIR-V, from Dawn on SwiftShader, whose compiles take nearly all the time: the kernels dealt
 * round-robin to one child process per core (at most 4: each holds a Dawn device), each in its own folder under `dir`.
 */
async function dumpAll(variants: KernelVariant[], dir: string, progress: (line: string) => void): Promise<Dump[]> {
  const jobs = Math.max(1, Math.min(4, availableParallelism(), variants.length));
  let done = 0;
  const dumped = (line: string) => progress(`dawn: [${++done}/${variants.length}] ${line}`);
  const groups = Array.from({ length: jobs }, (_, j) => variants.map((_, i) => i).filter((i) => i % jobs === j));
  const results = await Promise.all(
    groups.map((indices, j) => {
      const sub = join(dir, String(j));
      mkdirSync(sub);
      return dumpSpirv(indices.map((i) => variants[i]), sub, dumped);
    }),
  );
  const dumps: Dump[] = [];
  groups.forEach((indices, j) => indices.forEach((i, k) => (dumps[i] = results[j][k])));
  return dumps;
}

/**
 * Makes each kernel's pipeline with Dawn on SwiftShader (a child process) and writes the SPIR-V text Dawn dumps to
 * `dir/<i>.spvasm`. `dumped` is told each kernel made (its name and seconds).
 */
async function dumpSpirv(variants: KernelVariant[], dir: string, dumped: (line: string) => void): Promise<Dump[]> {
  const request = join(dir, 'kernels.json');
  writeFileSync(request, JSON.stringify(variants.map(({ kernel, source, constants }) => ({ kernel, source, constants }))));
  await ensureRuntimeDir();
  // The child's stdout is a file, not a pipe: Dawn writes its dumps straight to the descriptor, and on a pipe
  // (non-blocking in Node) long dumps came out garbled.
  const dumpFile = join(dir, 'dump.txt');
  const fd = openSync(dumpFile, 'w');
  const child = spawn(process.execPath, ['--import', join(ROOT, 'bin/register.js'), join(ROOT, 'tools/shader-stats/spirv-dump.ts'), request], {
    cwd: ROOT,
    env: cleanEnv({ VK_ICD_FILENAMES: swiftshaderIcd() ?? '' }),
    stdio: ['ignore', fd, 'pipe'],
  });
  closeSync(fd);
  let stderr = '';
  createInterface({ input: child.stderr! }).on('line', (l) => {
    if (l.startsWith('dawn: ')) dumped(l.slice('dawn: '.length));
    else stderr += l + '\n';
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (status !== 0) throw new Error(`the SPIR-V dump (Dawn on SwiftShader) exited with ${status}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);

  const versions: string[] = [];
  const errors: string[] = [];
  let current = -1;
  let dumps = 0;
  let spirv: string[] | null = null; // the lines of the dump being read
  const endDump = () => {
    if (spirv && current >= 0) {
      versions[current] = /^; Version: (\d+\.\d+)/m.exec(spirv.slice(0, 5).join('\n'))?.[1] ?? '';
      writeFileSync(join(dir, `${current}.spvasm`), spirv.join('\n') + '\n');
    }
    spirv = null;
  };
  for await (const l of createInterface({ input: createReadStream(dumpFile) })) {
    const marker = /^@@(kernel|done|error) (\d+) ?(.*)$/.exec(l);
    if (marker) {
      endDump();
      const i = Number(marker[2]);
      if (marker[1] === 'kernel') [current, dumps] = [i, 0];
      else if (marker[1] === 'error') errors.push(`${variants[i].kernel}: ${marker[3]}`);
      else if (dumps !== 1) errors.push(`${variants[i].kernel}: Dawn printed ${dumps} SPIR-V dumps for its pipeline, not 1`);
    } else if (l === '/* Dumped SPIRV disassembly */') {
      endDump();
      spirv = [];
      dumps++;
    } else if (/^(info|warning|error):$/.test(l)) endDump(); // Dawn's next log message
    else spirv?.push(l);
  }
  endDump();
  if (errors.length) throw new Error(`Dawn could not make ${errors.length} pipeline(s): ${errors.join('; ')}`);
  const missing = variants.filter((_, i) => !existsSync(join(dir, `${i}.spvasm`)));
  if (missing.length) throw new Error(`no SPIR-V dump for ${missing.map((v) => v.kernel).join(', ')}`);
  return variants.map((_, i) => ({ file: join(dir, `${i}.spvasm`), version: versions[i] }));
}

/** One line of shader_stats.c's output. */
interface HelperLine {
  file: string;
  device?: string;
  driver?: string;
  subgroup_size?: number;
  stats?: Record<string, number>;
  error?: string;
}

/** Compiled statistics of each SPIR-V file for one chip, from the C program on RADV with no hardware. */
function radvStats(helper: string, files: string[], family: Family): { lines: Map<string, HelperLine>; driver: string } {
  const r: SpawnSyncReturns<string> = spawnSync(helper, files, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: cleanEnv({ RADV_FORCE_FAMILY: family, VK_ICD_FILENAMES: radeonIcd() ?? '' }),
  });
  const lines = new Map<string, HelperLine>();
  for (const text of (r.stdout ?? '').split('\n').filter(Boolean)) {
    const line = JSON.parse(text) as HelperLine;
    lines.set(line.file, line);
  }
  if (r.status === 2 || r.error || !lines.size) throw new Error(`shader_stats (RADV, ${family}) failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  const first = [...lines.values()].find((l) => l.device);
  if (first && !first.device!.toUpperCase().includes(family.toUpperCase())) throw new Error(`RADV made a "${first.device}" device, not ${family} (RADV_FORCE_FAMILY)`);
  return { lines, driver: `${first?.driver ?? 'Mesa'} RADV` };
}

/** A statistic of RADV's report, by its name there (Mesa 22.3: "VGPRs", "Spilled SGPRs", "Scratch size", ...). */
function stat(line: HelperLine, name: string): number {
  const v = line.stats?.[name];
  if (typeof v !== 'number') throw new Error(`${line.file}: RADV reported no "${name}" statistic`);
  return v;
}

export interface CompileOptions {
  families: readonly Family[];
  /** progress lines (stderr in the CLI) */
  progress?: (line: string) => void;
}

/** Compiles each variant for each family; rows in the variants' order, family by family. */
export async function compileKernels(variants: KernelVariant[], o: CompileOptions): Promise<{ rows: KernelStats[]; driver: string }> {
  const progress = o.progress ?? (() => {});
  requireTools();
  const helper = buildHelper();
  const dir = mkdtempSync(join(tmpdir(), 'modernbert-shader-stats-'));
  try {
    const start = performance.now();
    const dumps = await dumpAll(variants, dir, progress);
    progress(`dumped ${variants.length} kernels' SPIR-V in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    const radvStart = performance.now();
    const files = dumps.map(({ file, version }, i) => {
      const spv = file.replace(/\.spvasm$/, '.spv');
      const r = spawnSync('spirv-as', ['--target-env', `spv${version || '1.3'}`, file, '-o', spv], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`spirv-as could not assemble the SPIR-V of ${variants[i].kernel}: ${(r.stderr || r.error?.message || '').trim()}`);
      return spv;
    });
    const rows: KernelStats[] = [];
    let driver = '';
    for (const family of o.families) {
      const radv = radvStats(helper, files, family);
      driver = radv.driver;
      variants.forEach((v, i) => {
        const line = radv.lines.get(files[i]);
        if (!line || line.error) throw new Error(`RADV (${family}) could not compile ${v.kernel}: ${line?.error ?? 'no output for it'}`);
        const vgprs = stat(line, 'VGPRs');
        rows.push({
          kernel: v.kernel,
          family,
          default: v.default,
          vgprs,
          sgprs: stat(line, 'SGPRs'),
          spilled_vgprs: stat(line, 'Spilled VGPRs'),
          spilled_sgprs: stat(line, 'Spilled SGPRs'),
          scratch_bytes: stat(line, 'Scratch size'),
          code_bytes: stat(line, 'Code size'),
          waves_per_simd: wavesPerSimd(family, vgprs, line.subgroup_size ?? 64),
        });
      });
    }
    progress(`assembled them and compiled them on RADV (${o.families.join(', ')}) in ${((performance.now() - radvStart) / 1000).toFixed(1)} s`);
    return { rows, driver };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Checks: spills, and the register baseline ----

/** Rows that spill registers or use scratch memory. */
export function spilling(rows: KernelStats[]): KernelStats[] {
  return rows.filter((r) => r.spilled_vgprs > 0 || r.spilled_sgprs > 0 || r.scratch_bytes > 0);
}

/** Committed VGPR counts of the default kernels, per family (test/fixtures/kernel-stats-baseline.json). */
export interface Baseline {
  note: string;
  vgprs: Partial<Record<Family, Record<string, number>>>;
}

export interface RegisterChange {
  kernel: string;
  family: Family;
  baseline: number;
  now: number;
  /** (now - baseline) / baseline */
  change: number;
}

/** Largest VGPR growth of a default kernel the gate lets pass: 10%. */
export const MAX_VGPR_GROWTH = 0.1;

/**
 * The default kernels whose VGPRs grew by more than `maxGrowth` over the baseline (regressions), and those the
 * baseline does not have (it must be regenerated for them to be gated), with a table of the regressions.
 */
export function compareWithBaseline(rows: KernelStats[], baseline: Baseline, maxGrowth = MAX_VGPR_GROWTH): { regressions: RegisterChange[]; missing: string[]; table: string } {
  const regressions: RegisterChange[] = [];
  const missing: string[] = [];
  for (const r of rows.filter((row) => row.default)) {
    const was = baseline.vgprs[r.family]?.[r.kernel];
    if (was === undefined) missing.push(`${r.family} ${r.kernel}`);
    else if (r.vgprs > was * (1 + maxGrowth)) regressions.push({ kernel: r.kernel, family: r.family, baseline: was, now: r.vgprs, change: (r.vgprs - was) / was });
  }
  const table = formatTable(
    ['kernel', 'family', 'baseline', 'now', 'change'],
    regressions.map((g) => [g.kernel, g.family, String(g.baseline), String(g.now), `+${(100 * g.change).toFixed(1)}%`]),
  );
  return { regressions, missing, table };
}

/** The baseline of these rows' default kernels, merged into `previous` (families not compiled now keep theirs). */
export function baselineOf(rows: KernelStats[], previous?: Baseline): Baseline {
  const vgprs: Baseline['vgprs'] = { ...previous?.vgprs };
  for (const family of new Set(rows.map((r) => r.family))) {
    vgprs[family] = Object.fromEntries(rows.filter((r) => r.family === family && r.default).map((r) => [r.kernel, r.vgprs]));
  }
  return {
    note: 'VGPRs of the default kernels on RADV with no GPU (modernbert kernels --stats). Regenerate: npx modernbert kernels --stats --defaults --family navi21,aldebaran --write-baseline test/fixtures/kernel-stats-baseline.json',
    vgprs,
  };
}

export function readBaseline(file: string): Baseline {
  let data: Baseline;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as Baseline;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || typeof data.vgprs !== 'object' || data.vgprs === null) throw new Error(`${file}: not a kernel-stats baseline (no "vgprs" object)`);
  return data;
}

// ---- Output ----

const COLUMNS: (keyof KernelStats)[] = ['kernel', 'family', 'default', 'vgprs', 'sgprs', 'spilled_vgprs', 'spilled_sgprs', 'scratch_bytes', 'code_bytes', 'waves_per_simd'];

/** The rows as a table: text left-aligned, numbers right-aligned. */
export function statsTable(rows: KernelStats[]): string {
  return formatTable(
    COLUMNS,
    rows.map((r) => COLUMNS.map((c) => (c === 'default' ? (r.default ? 'yes' : 'no') : String(r[c])))),
  );
}

/** One JSON object per row, with exactly the columns' keys. */
export function statsJson(rows: KernelStats[]): string {
  return rows.map((r) => JSON.stringify(Object.fromEntries(COLUMNS.map((c) => [c, r[c]])))).join('\n') + (rows.length ? '\n' : '');
}

function formatTable(header: string[], body: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const numeric = header.map((_, c) => body.length > 0 && body.every((row) => /^[+-]?[\d.]+%?$/.test(row[c]) || row[c] === ''));
  const line = (cells: string[]) => cells.map((s, c) => (numeric[c] ? s.padStart(widths[c]) : s.padEnd(widths[c]))).join(' | ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)].join('\n') + '\n';
}
