// WebGPU adapter and device acquisition, in Node (Dawn through the `webgpu` package) and in a browser
// (navigator.gpu). Requests the limits the engine needs and the optional features it can use. A lost
// device is remembered and turned into an error on the next call.

export interface GpuContext {
  device: GPUDevice;
  adapter: { vendor: string; architecture: string; description: string };
  /** True when the adapter is SwiftShader (a CPU implementation: correct, slow). */
  swiftshader: boolean;
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  /** Throws if the device was lost, or if WebGPU reported an error (a shader that does not compile, a bad binding). */
  check(): void;
}

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

function dawnInstance(create: (flags: string[]) => GPU): GPU {
  const gpu = create([]);
  dawnInstances.push(gpu);
  return gpu;
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
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, ... as in a browser
  let adapter = await dawnInstance(create).requestAdapter({ powerPreference: 'high-performance' });
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

/** Acquires a device with the adapter's largest storage limits and the optional features it has. */
export async function acquireDevice(): Promise<GpuContext> {
  const adapter = await requestAdapter();
  const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
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
  const adapterInfo = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '' };
  return {
    device,
    adapter: adapterInfo,
    swiftshader: /swiftshader/i.test(`${adapterInfo.vendor} ${adapterInfo.architecture} ${adapterInfo.description}`) || (typeof process !== 'undefined' && process.env?.VK_ICD_FILENAMES?.includes('swiftshader') === true),
    features: { shaderF16: features.includes('shader-f16'), subgroups: features.includes('subgroups' as GPUFeatureName), timestampQuery: features.includes('timestamp-query') },
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

let shared: Promise<GpuContext> | null = null;

/** One device per process, acquired on first use. */
export function sharedDevice(): Promise<GpuContext> {
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
