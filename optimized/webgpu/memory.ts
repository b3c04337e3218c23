// Every GPU buffer of the engine goes through one pool, which counts live and peak bytes. Weights are
// uploaded once and stay resident. Activations are released when their last reader has been encoded and
// are reused by later allocations of the same size in the same pass (WebGPU orders the uses), so the peak
// is what the allocation plan needs, not the sum of every intermediate.
//
// With no device the pool plans: it hands out placeholder buffers and counts bytes exactly as it would,
// which is how `modernbert plan` measures a forward pass without running it.

export type BufferKind = 'weight' | 'activation' | 'uniform' | 'readback';

export interface MemoryStats {
  peakBytes: number;
  liveBytes: number;
  weightBytes: number;
  /** the largest single buffer since resetPeak(): it must fit the device's maxStorageBufferBindingSize */
  largestBufferBytes: number;
}

interface Entry {
  buffer: GPUBuffer;
  size: number;
  kind: BufferKind;
}

const STORAGE = 0x80 | 0x4 | 0x8; // GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST (constants, so planning needs no WebGPU globals)
const UNIFORM = 0x40 | 0x8; // UNIFORM | COPY_DST
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST

export class BufferPool {
  liveBytes = 0;
  peakBytes = 0;
  weightBytes = 0;
  largestBufferBytes = 0;
  private readonly live = new Map<GPUBuffer, Entry>();
  private readonly free = new Map<number, GPUBuffer[]>(); // released activations by size, reusable
  private readonly retired: GPUBuffer[] = []; // released uniforms and readbacks, destroyed at trim()

  constructor(private readonly device: GPUDevice | null) {}

  get planning(): boolean {
    return this.device === null;
  }

  /** A storage buffer of `bytes` (rounded up to 16). A reused buffer holds old data: kernels write every element. */
  storage(bytes: number, label: string, kind: 'weight' | 'activation' = 'activation'): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const reused = kind === 'activation' ? this.free.get(size)?.pop() : undefined;
    return this.track(reused ?? this.create(size, STORAGE, label), size, kind);
  }

  uniform(bytes: number, label: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    return this.track(this.create(size, UNIFORM, label), size, 'uniform');
  }

  readback(bytes: number, label: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 4) * 4);
    return this.track(this.create(size, READBACK, label), size, 'readback');
  }

  /** Ends a buffer's life. Activations become reusable; uniforms and readbacks wait for trim(). */
  release(buffer: GPUBuffer): void {
    const e = this.live.get(buffer);
    if (!e) throw new Error(`release of a buffer the pool does not hold (${buffer.label})`);
    this.live.delete(buffer);
    this.liveBytes -= e.size;
    if (e.kind === 'weight') this.weightBytes -= e.size;
    if (e.kind === 'activation') this.free.set(e.size, [...(this.free.get(e.size) ?? []), buffer]);
    else this.retired.push(buffer);
  }

  /** Destroys released buffers; call once the GPU work that used them has completed. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    for (const b of this.retired.splice(0)) b.destroy();
  }

  /** Destroys every buffer, live or free (the model is done). */
  destroyAll(): void {
    for (const b of this.live.keys()) b.destroy();
    this.live.clear();
    this.liveBytes = this.weightBytes = 0;
    this.trim();
  }

  stats(): MemoryStats {
    return { peakBytes: this.peakBytes, liveBytes: this.liveBytes, weightBytes: this.weightBytes, largestBufferBytes: this.largestBufferBytes };
  }

  /** Starts a new peak measurement from the bytes live now. */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
    this.largestBufferBytes = 0;
  }

  private create(size: number, usage: number, label: string): GPUBuffer {
    if (!this.device) return { label, size, destroy() {} } as unknown as GPUBuffer;
    return this.device.createBuffer({ size, usage, label });
  }

  private track(buffer: GPUBuffer, size: number, kind: BufferKind): GPUBuffer {
    this.live.set(buffer, { buffer, size, kind });
    this.liveBytes += size;
    if (kind === 'weight') this.weightBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    this.largestBufferBytes = Math.max(this.largestBufferBytes, size);
    return buffer;
  }
}
