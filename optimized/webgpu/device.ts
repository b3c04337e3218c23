// WebGPU adapter and device acquisition, in Node (Dawn through the `webgpu` package) and in a browser
// (navigator.gpu). Requests the limits the engine needs and the optional features it can use. A lost
// device is remembered and turned into an error on the next call.

export interface GpuContext {
  device: GPUDevice;
  adapter: { vendor: string; architecture: string; description: string };
  /** True when the adapter is SwiftShader (a CPU implementation: correct, slow). */
  swiftshader: boolean;
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  /** The kernel choices `modernbert tune` made for this adapter (Node: from the tuning cache), or null: the defaults. */
  tuning: Tuning | null;
  /** Throws if the device was lost, or if WebGPU reported an error (a shader that does not compile, a bad binding). */
  check(): void;
  /** Whether the device was lost (destroyed, or taken by the driver). */
  isLost(): boolean;
}

import { type Tuning, adapterKey } from './tuning.ts';

export class DeviceError extends Error {
  override name = 'DeviceError';
}

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups' as GPUFeatureName, 'timestamp-query'];
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

/** The WebGPU entry point: navigator.gpu in a browser, Dawn in Node (falling back to SwiftShader). */
async function requestAdapter(): Promise<GPUAdapter> {
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
  const gpuPresent = process.platform !== 'linux' || process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES || (await linuxGpuDeviceNodes()).length > 0;
  let adapter = gpuPresent ? await dawnInstance(create).requestAdapter({ powerPreference: 'high-performance' }) : null;
  if (!adapter && !process.env.VK_ICD_FILENAMES) {
    const { existsSync } = await import('node:fs');
    const icd = SWIFTSHADER_ICDS.find((f) => existsSync(f));
    if (icd) {
      process.env.VK_ICD_FILENAMES = icd;
      adapter = await dawnInstance(create).requestAdapter();
      if (adapter && !announcedSwiftshader) {
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

/**
 * Acquires a device with the adapter's largest storage limits and the optional features it has. `maxBufferBytes`
 * asks for less (no lower than WebGPU's defaults), to see how the engine behaves on a smaller GPU.
 */
export async function acquireDevice(options: { maxBufferBytes?: number } = {}): Promise<GpuContext> {
  const adapter = await requestAdapter();
  const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const cap = (n: number) => Math.min(n, options.maxBufferBytes ?? Infinity);
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: cap(l.maxStorageBufferBindingSize),
      maxBufferSize: cap(l.maxBufferSize),
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
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
    tuning: await tuningFor(adapterInfo),
    swiftshader: /swiftshader/i.test(`${adapterInfo.vendor} ${adapterInfo.architecture} ${adapterInfo.description}`) || (typeof process !== 'undefined' && process.env?.VK_ICD_FILENAMES?.includes('swiftshader') === true),
    features: { shaderF16: features.includes('shader-f16'), subgroups: features.includes('subgroups' as GPUFeatureName), timestampQuery: features.includes('timestamp-query') },
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

/** This adapter's entry of the tuning cache file, in Node (a browser has no cache: the defaults). */
async function tuningFor(adapter: GpuContext['adapter']): Promise<Tuning | null> {
  if (typeof process === 'undefined' || !process.versions?.node) return null;
  const { readTuningCache, tuningCachePath } = await import('./tuning-cache.ts');
  return (await readTuningCache(tuningCachePath())).adapters[adapterKey(adapter)] ?? null;
}

/** One cooperative-matrix shape the adapter offers (Dawn's adapter.info.subgroupMatrixConfigs). */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

const SUBGROUP_MATRIX = 'chromium-experimental-subgroup-matrix';

/**
 * Whether the adapter offers Dawn's subgroup-matrix feature (tensor cores on NVIDIA through
 * VK_KHR_cooperative_matrix) and its shapes. Dawn exposes it only on an instance made with
 * `allow_unsafe_apis`, so this probe makes such an instance of its own; the engine's device never uses one,
 * and no engine kernel uses the feature yet. Node only (a browser decides for itself).
 */
export async function probeSubgroupMatrix(): Promise<{ available: boolean; configs: SubgroupMatrixConfig[]; detail: string }> {
  if (typeof process === 'undefined' || !process.versions?.node) return { available: false, configs: [], detail: 'probed in Node only' };
  const { create } = await import('webgpu');
  const adapter = await dawnInstance(create, ['enable-dawn-features=allow_unsafe_apis']).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { available: false, configs: [], detail: 'no adapter on an allow_unsafe_apis instance' };
  const configs = ((adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: SubgroupMatrixConfig[] }).subgroupMatrixConfigs ?? []).map((c) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K }));
  const has = adapter.features.has(SUBGROUP_MATRIX);
  if (!has) return { available: false, configs, detail: `the adapter does not offer ${SUBGROUP_MATRIX} (probed with allow_unsafe_apis)` };
  const shapes = configs.map((c) => `${c.componentType}x${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`).join(', ');
  return { available: true, configs, detail: `${SUBGROUP_MATRIX} (allow_unsafe_apis): ${shapes || 'no configs listed'}; no engine kernel uses it yet` };
}

let shared: Promise<GpuContext> | null = null;

/** One device per process, acquired on first use. */
export async function sharedDevice(): Promise<GpuContext> {
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
  if (!shared) return;
  const pending = shared;
  shared = null;
  try {
    (await pending).device.destroy();
  } catch {
    // acquisition failed: nothing to close
  }
}
