// WebGPU adapter and device acquisition, in Node (Dawn through the `webgpu` package) and in a browser
// (navigator.gpu). Requests the limits the engine needs and the optional features it can use. A lost
// device is remembered and turned into an error on the next call.

export interface GpuContext {
  device: GPUDevice;
  adapter: { vendor: string; architecture: string; description: string };
  /** True when the adapter is SwiftShader (a CPU implementation: correct, slow). */
  swiftshader: boolean;
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean; subgroupMatrix: boolean };
  /** The device's subgroup matrices (tensor cores) for gemm_sgmat.wgsl: the f16 x f16 -> f32 configurations and
   *  the adapter's largest subgroup size; null where the device has none (subgroupMatrixReason says why). */
  subgroupMatrix: { configs: SubgroupMatrixConfig[]; subgroupMaxSize: number } | null;
  subgroupMatrixReason: string | null;
  /** Throws if the device was lost, or if WebGPU reported an error (a shader that does not compile, a bad binding). */
  check(): void;
  /** Whether the device was lost (destroyed, or taken by the driver). */
  isLost(): boolean;
}

export class DeviceError extends Error {
  override name = 'DeviceError';
}

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups' as GPUFeatureName, 'timestamp-query'];
const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix' as GPUFeatureName;
// Dawn's instance flags. Dawn withholds shader-f16 from NVIDIA's Vulkan driver pending a conformance
// investigation (crbug.com/42251215) unless vulkan_enable_f16_on_nvidia is on, and with it the f16 subgroup-matrix
// shapes; the engine's f16 kernels are checked by the parity suite on whatever device runs them.
// disable_workgroup_init: no zero-filling of workgroup memory before each workgroup runs. Every kernel writes its
// workgroup memory before reading it (the GEMMs stage whole tiles, zeros past the matrix; attention clamps its
// key rows), so the fill is pure cost: stores at every workgroup's start on a GPU, and on SwiftShader ~11 s of
// compilation for GEMM v4's 32 KiB of tiles (0.65 s without; measured).
export const DAWN_TOGGLES = ['vulkan_enable_f16_on_nvidia', 'disable_workgroup_init'];
const DAWN_FLAGS = [`enable-dawn-features=${DAWN_TOGGLES.join(',')}`];
// Subgroup matrices are an experimental Dawn feature, offered only on an instance that allows unsafe APIs:
// such an instance is used only where the adapter has a configuration the engine's kernel takes.
const UNSAFE_DAWN_FLAGS = [`enable-dawn-features=${[...DAWN_TOGGLES, 'allow_unsafe_apis'].join(',')}`];
// Debian's chromium package ships SwiftShader's Vulkan ICD here (`dpkg -L chromium | grep icd`).
const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib64/chromium/vk_swiftshader_icd.json'];

let announcedSwiftshader = false;
// Dawn's GPU objects must outlive every device made from them: once garbage-collected, Dawn's event loop
// touches a freed instance and the process crashes. Keep them for the life of the process.
const dawnInstances: GPU[] = [];

function dawnInstance(create: (flags: string[]) => GPU, flags: string[] = []): GPU {
  const gpu = create(flags);
  dawnInstances.push(gpu);
  return gpu;
}

/**
 * The Vulkan loader prints "XDG_RUNTIME_DIR is invalid or not set" once per device it probes where the variable
 * is missing (a headless machine, CI): give it a private directory, as a login session would (one per user,
 * mode 0700, kept for the next process). Call before loading Dawn.
 */
export async function ensureRuntimeDir(): Promise<void> {
  if (typeof process === 'undefined' || !process.versions?.node || process.env.XDG_RUNTIME_DIR) return;
  const { mkdirSync } = await import('node:fs');
  const dir = `${process.env.TMPDIR ?? '/tmp'}/modernbert-runtime-${process.getuid?.() ?? 'user'}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}

/** The device nodes through which Linux GPU drivers are reached (DRM, NVIDIA's, AMD's compute, WSL's); empty on a CPU-only machine. */
export async function linuxGpuDeviceNodes(dev = '/dev'): Promise<string[]> {
  const { readdirSync } = await import('node:fs');
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const nodes = list(dev).filter((n) => /^nvidia\d+$|^kfd$|^dxg$/.test(n)).map((n) => `${dev}/${n}`);
  return [...nodes, ...list(`${dev}/dri`).filter((n) => /^(renderD|card)\d+$/.test(n)).map((n) => `${dev}/dri/${n}`)].sort();
}

/** SwiftShader's Vulkan ICD file where it is installed (Debian's chromium), else null. */
async function swiftshaderIcd(): Promise<string | null> {
  const { existsSync } = await import('node:fs');
  return SWIFTSHADER_ICDS.find((f) => existsSync(f)) ?? null;
}

/** Whether Vulkan may see a GPU: any OS but Linux, an ICD named in the environment, or a GPU device node. */
async function gpuMayBePresent(): Promise<boolean> {
  return process.platform !== 'linux' || Boolean(process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) || (await linuxGpuDeviceNodes()).length > 0;
}

/**
 * For a process whose Dawn is not this engine's (ONNX Runtime's WebGPU provider, which finds no adapter on a machine
 * without a GPU): the set-up requestAdapter makes for ours, a private XDG_RUNTIME_DIR and, where Linux shows no GPU
 * and no ICD is named, SwiftShader's ICD in VK_ICD_FILENAMES. Call before that Dawn starts. Returns the ICD named.
 */
export async function prepareVulkanForOtherDawn(): Promise<string | null> {
  await ensureRuntimeDir();
  if (await gpuMayBePresent()) return process.env.VK_ICD_FILENAMES ?? null;
  const icd = await swiftshaderIcd();
  if (icd) process.env.VK_ICD_FILENAMES = icd;
  return icd;
}

/** The WebGPU entry point: navigator.gpu in a browser, Dawn in Node (an instance made with `flags`; falling back to SwiftShader). */
async function requestAdapter(flags = DAWN_FLAGS, announce = true): Promise<GPUAdapter> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) {
    const adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new DeviceError('navigator.gpu found no WebGPU adapter (in Chromium, try --enable-unsafe-webgpu)');
    return adapter;
  }
  if (typeof process === 'undefined' || !process.versions?.node) throw new DeviceError('this runtime has no WebGPU (navigator.gpu is missing)');
  await ensureRuntimeDir();
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, ... as in a browser
  // Where Linux shows no GPU at all, asking Vulkan's drivers costs only noise: Dawn rejects Mesa's CPU driver
  // (lavapipe) with a warning on stderr. Go straight to SwiftShader there.
  let adapter = (await gpuMayBePresent()) ? await dawnInstance(create, flags).requestAdapter({ powerPreference: 'high-performance' }) : null;
  if (!adapter && !process.env.VK_ICD_FILENAMES) {
    const icd = await swiftshaderIcd();
    if (icd) {
      process.env.VK_ICD_FILENAMES = icd;
      adapter = await dawnInstance(create, flags).requestAdapter();
      if (adapter && announce && !announcedSwiftshader) {
        announcedSwiftshader = true;
        process.stderr.write(`webgpu: no GPU adapter found; using SwiftShader (${icd}): correct but slow\n`);
      }
    }
  }
  if (!adapter) {
    throw new DeviceError(
      'no WebGPU adapter: Dawn found no Vulkan device. On a GPU machine install the Vulkan loader (libvulkan1) and the ' +
        "driver's ICD (or set VK_ICD_FILENAMES); on a CPU-only Debian machine `apt-get install chromium libvulkan1` provides SwiftShader",
    );
  }
  return adapter;
}

/** Whether an adapter is SwiftShader (a CPU implementation of Vulkan): by its name, or by the ICD requestAdapter chose. */
function isSwiftShader(adapter: { vendor: string; architecture: string; description: string }): boolean {
  return /swiftshader/i.test(`${adapter.vendor} ${adapter.architecture} ${adapter.description}`) || (typeof process !== 'undefined' && process.env?.VK_ICD_FILENAMES?.includes('swiftshader') === true);
}

/**
 * Whether WebGPU has a real GPU here (an adapter that is not SwiftShader), found without making a device (a device
 * keeps Node running) and without the SwiftShader notice; `why` says what was found, in a few words.
 */
export async function probeGpu(): Promise<{ gpu: boolean; why: string }> {
  try {
    const info = (await requestAdapter(DAWN_FLAGS, false)).info ?? ({} as GPUAdapterInfo);
    const named = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '' };
    const name = [named.vendor, named.architecture, info.device || named.description].filter(Boolean).join(' / ') || 'an unnamed adapter';
    return isSwiftShader(named) ? { gpu: false, why: 'WebGPU finds no GPU here, only SwiftShader (a CPU emulation)' } : { gpu: true, why: `WebGPU found ${name}` };
  } catch (e) {
    return { gpu: false, why: `WebGPU has no adapter (${(e as Error).message.split(':')[0]})` };
  }
}

/**
 * Acquires a device with the adapter's largest storage limits and the optional features it has. `maxBufferBytes`
 * asks for less (no lower than WebGPU's defaults), to see how the engine behaves on a smaller GPU.
 */
export async function acquireDevice(options: { maxBufferBytes?: number; subgroupMatrix?: boolean } = {}): Promise<GpuContext> {
  let adapter = await requestAdapter(options.subgroupMatrix === false ? DAWN_FLAGS : UNSAFE_DAWN_FLAGS);
  let matrices = usableSubgroupMatrices(adapter);
  if (options.subgroupMatrix === false) matrices = { configs: [], reason: 'not asked for (subgroupMatrix: false)' };
  else if (!matrices.configs.length && isDawn()) adapter = await requestAdapter(DAWN_FLAGS); // no unsafe instance without a reason
  const wanted = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  if (matrices.configs.length) wanted.push(SUBGROUP_MATRIX);
  const l = adapter.limits;
  const cap = (n: number) => Math.min(n, options.maxBufferBytes ?? Infinity);
  const { device, features, refused } = await requestDeviceWithFeatures(adapter, wanted, {
    maxStorageBufferBindingSize: cap(l.maxStorageBufferBindingSize),
    maxBufferSize: cap(l.maxBufferSize),
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
  });
  if (refused) {
    if (typeof process !== 'undefined') process.stderr?.write(`webgpu: ${refused}; the device was made with ${features.join(', ') || 'no optional feature'}\n`);
    if (!features.includes(SUBGROUP_MATRIX)) matrices = { configs: [], reason: `the adapter offers it, but ${refused}` };
  }
  let lost: GPUDeviceLostInfo | null = null;
  void device.lost.then((info) => {
    lost = info;
  });
  let firstError: string | null = null;
  device.addEventListener('uncapturederror', (e) => {
    firstError ??= (e as GPUUncapturedErrorEvent).error.message;
  });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  // Vulkan's description is the driver's version ("NVIDIA: 580.159.04 ..."): the device's name goes first, so that
  // names, tuning-cache keys and known peaks tell one GPU from another under the same driver.
  const description = info.device && !(info.description ?? '').includes(info.device) ? [info.device, info.description].filter(Boolean).join(', ') : (info.description ?? '');
  const adapterInfo = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description };
  return {
    device,
    adapter: adapterInfo,
    swiftshader: isSwiftShader(adapterInfo),
    features: {
      shaderF16: features.includes('shader-f16'),
      subgroups: features.includes('subgroups' as GPUFeatureName),
      timestampQuery: features.includes('timestamp-query'),
      subgroupMatrix: matrices.configs.length > 0,
    },
    subgroupMatrix: matrices.configs.length ? { configs: matrices.configs, subgroupMaxSize: (info as GPUAdapterInfo & { subgroupMaxSize?: number }).subgroupMaxSize ?? 32 } : null,
    subgroupMatrixReason: matrices.configs.length ? null : matrices.reason,
    isLost: () => lost !== null,
    check() {
      if (lost) throw new DeviceError(`the WebGPU device was lost (${lost.reason}: ${lost.message}); acquire a new one`);
      if (firstError) {
        const message = firstError;
        firstError = null;
        throw new DeviceError(`WebGPU error: ${message.trim().replace(/\s*\n\s*/g, ' | ')}`);
      }
    },
  };
}

/**
 * requestDevice with the optional features wanted. A driver may list a feature and still refuse a device with it
 * (the experimental subgroup matrices above all): then the device is made without subgroup matrices, else without
 * any optional feature, and `refused` says what was refused and why. Only a device with none fails.
 */
export async function requestDeviceWithFeatures(adapter: Pick<GPUAdapter, 'requestDevice'>, wanted: GPUFeatureName[], requiredLimits: Record<string, number>): Promise<{ device: GPUDevice; features: GPUFeatureName[]; refused: string | null }> {
  const tries = [wanted, wanted.filter((f) => f !== SUBGROUP_MATRIX), []].filter((t, i, all) => i === 0 || t.length < all[i - 1].length);
  let refused: string | null = null;
  for (const features of tries) {
    try {
      return { device: await adapter.requestDevice({ requiredFeatures: features, requiredLimits }), features, refused };
    } catch (e) {
      if (!features.length) throw e;
      refused ??= `requestDevice refused ${features.join(', ')}: ${(e as Error).message}`;
    }
  }
  throw new Error('unreachable: the last try has no optional feature');
}

/** One cooperative-matrix shape the adapter offers (Dawn's adapter.info.subgroupMatrixConfigs). */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

function isDawn(): boolean {
  return !(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu && typeof process !== 'undefined' && !!process.versions?.node;
}

/**
 * The configurations gemm_sgmat.wgsl can use on this adapter (f16 x f16 -> f32, each side 8, 16 or 32, with
 * shader-f16 and subgroups), or why there are none.
 */
export function usableSubgroupMatrices(adapter: GPUAdapter): { configs: SubgroupMatrixConfig[]; reason: string } {
  const listed = (adapter.info as (GPUAdapterInfo & { subgroupMatrixConfigs?: SubgroupMatrixConfig[] }) | undefined)?.subgroupMatrixConfigs ?? [];
  const all = listed.map((c) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K }));
  if (!adapter.features.has(SUBGROUP_MATRIX)) return { configs: [], reason: `the adapter does not offer ${SUBGROUP_MATRIX} (asked with allow_unsafe_apis)` };
  const missing = ['shader-f16', 'subgroups'].filter((f) => !adapter.features.has(f as GPUFeatureName));
  if (missing.length) return { configs: [], reason: `${SUBGROUP_MATRIX} is offered, but not ${missing.join(' or ')}` };
  const configs = all.filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && [c.M, c.N, c.K].every((v) => v === 8 || v === 16 || v === 32));
  return configs.length ? { configs, reason: '' } : { configs, reason: `no f16 x f16 -> f32 configuration (the adapter lists: ${all.map(configName).join(', ') || 'none'})` };
}

export function configName(c: SubgroupMatrixConfig): string {
  return `${c.componentType}x${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`;
}

let shared: Promise<GpuContext> | null = null;
// The models the library made on the shared device (holdSharedDevice): when the last lets go, the device is
// destroyed, so a script that disposes its models exits; unless someone took the device with sharedDevice(), which
// keeps it until closeSharedDevice().
const holders = new Set<object>();
let pinned = false;

/** One device per process, acquired on first use; it stays until closeSharedDevice(). */
export async function sharedDevice(): Promise<GpuContext> {
  pinned = true;
  return openSharedDevice();
}

/**
 * The shared device for one holder (a model): release() lets go of it, and the last release destroys it unless
 * sharedDevice() pinned it. Dawn keeps Node running while a device exists.
 */
export async function holdSharedDevice(): Promise<{ ctx: GpuContext; release(): Promise<void> }> {
  const ctx = await openSharedDevice();
  const holder = {};
  holders.add(holder);
  return {
    ctx,
    async release() {
      if (!holders.delete(holder) || holders.size > 0 || pinned) return;
      await closeSharedDevice();
    },
  };
}

async function openSharedDevice(): Promise<GpuContext> {
  // A lost device is replaced: models made after the loss get a working one (those made before stay failed).
  const current = shared;
  if (current && (await current.catch(() => null))?.isLost() && shared === current) shared = null;
  shared ??= acquireDevice().catch((e) => {
    shared = null;
    throw e;
  });
  return shared;
}

/** Destroys the shared device, if one was acquired, so the process can exit (Dawn keeps Node alive otherwise). */
export async function closeSharedDevice(): Promise<void> {
  holders.clear();
  pinned = false;
  if (!shared) return;
  const pending = shared;
  shared = null;
  try {
    (await pending).device.destroy();
  } catch {
    // acquisition failed: nothing to close
  }
}
