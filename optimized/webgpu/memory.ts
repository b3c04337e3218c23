// Every GPU buffer of the engine goes through one pool, which counts live and peak bytes. Weights are
// uploaded once and stay resident. Activations are released when their last reader has been encoded and
// are reused by later allocations of the same size in the same pass (WebGPU orders the uses), so the peak
// is what the allocation plan needs, not the sum of every intermediate.
//
// Released activations and readbacks are kept across passes: a pass of the same shape as the last one
// allocates nothing (Dawn zeroes every new buffer, and a bind group names its buffers, so reuse matters for
// host time). Kept buffers are "reserved", not live: liveBytes and peakBytes still count what the plan
// needs, reservedBytes what the pool holds on top of it. Kept buffers the current pass has not taken (another
// shape's) are destroyed as soon as the pass must create a buffer, and at endPass(), so the pool never holds
// two shapes' activations at once; trim() destroys every kept one.
//
// With no device the pool plans: it hands out placeholder buffers and counts bytes exactly as it would,
// which is how `modernbert plan` measures a forward pass without running it.

import { DeviceError } from './device.ts';

export type BufferKind = 'weight' | 'activation' | 'readback';

export interface MemoryStats {
  peakBytes: number;
  liveBytes: number;
  weightBytes: number;
  /** the largest single buffer since resetPeak(): it must fit the device's maxStorageBufferBindingSize */
  largestBufferBytes: number;
  /** held but not live: released activations and readbacks kept for the next pass, the launcher's uniform and query buffers */
  reservedBytes: number;
}

interface Entry {
  size: number;
  kind: BufferKind;
}

const STORAGE = 0x80 | 0x4 | 0x8; // GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST (constants, so planning needs no WebGPU globals)
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST

export class BufferPool {
  liveBytes = 0;
  peakBytes = 0;
  weightBytes = 0;
  largestBufferBytes = 0;
  reservedBytes = 0;
  /** device buffers created so far (a steady pass adds none) */
  buffersCreated = 0;
  /** bumped whenever the pool destroys a buffer, so caches that name buffers (bind groups) know to drop them */
  destroyEpoch = 0;
  private readonly live = new Map<GPUBuffer, Entry>();
  /** released activations and readbacks by kind and size, reusable */
  private readonly free = new Map<string, GPUBuffer[]>();
  /** long-lived buffers owned by a user of the pool (the launcher's uniform ring and timestamp buffers) */
  private readonly reserved = new Map<GPUBuffer, number>();
  /** released weights, destroyed once the work that may use them is complete */
  private readonly retired: GPUBuffer[] = [];
  /** the buffers handed out this pass and the last, in request order: the next pass replays the same choices */
  private handedOut: GPUBuffer[] = [];
  private readonly takenThisPass = new Set<GPUBuffer>();
  private lastPass: GPUBuffer[] = [];

  constructor(private readonly device: GPUDevice | null) {}

  get planning(): boolean {
    return this.device === null;
  }

  /** A storage buffer of `bytes` (rounded up to 16). A reused buffer holds old data: kernels write every element. */
  storage(bytes: number, label: string, kind: 'weight' | 'activation' = 'activation'): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (kind === 'weight') return this.track(this.create(size, STORAGE, label), size, kind);
    return this.take('activation', size, STORAGE, label);
  }

  /** A mappable buffer to copy results into; release it once read. */
  readback(bytes: number, label: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 4) * 4);
    return this.take('readback', size, READBACK, label);
  }

  /** Ends a buffer's life. Activations and readbacks are kept for reuse; a weight is destroyed at the next endPass() or trim(). */
  release(buffer: GPUBuffer): void {
    const e = this.live.get(buffer);
    if (!e) throw new Error(`release of a buffer the pool does not hold (${buffer.label})`);
    this.live.delete(buffer);
    this.liveBytes -= e.size;
    if (e.kind === 'weight') {
      this.weightBytes -= e.size;
      this.retired.push(buffer);
      return;
    }
    const key = freeKey(e.kind, e.size);
    const list = this.free.get(key);
    if (list) list.push(buffer);
    else this.free.set(key, [buffer]);
    this.reservedBytes += e.size;
  }

  /**
   * Ends a forward pass (its GPU work complete): keeps the released buffers this pass used, which a next pass
   * of the same shape takes again in the same order, and destroys those it did not use.
   */
  endPass(): void {
    this.dropStale();
    for (const b of this.retired.splice(0)) this.destroy(b);
    this.lastPass = this.handedOut;
    this.handedOut = [];
    this.takenThisPass.clear();
  }

  /** Destroys every kept (released) buffer: memory pressure, or a change of workload. The GPU work that used them must be complete. */
  trim(): void {
    this.dropFree(() => true);
    for (const b of this.retired.splice(0)) this.destroy(b);
  }

  /** A long-lived buffer of any usage for the pool's owner (not live, counted in reservedBytes). */
  reserve(size: number, usage: number, label: string): GPUBuffer {
    const buffer = this.create(size, usage, label);
    this.reserved.set(buffer, size);
    this.reservedBytes += size;
    return buffer;
  }

  /** Whether a reserve() buffer is still held (destroyAll() destroys them too). */
  isReserved(buffer: GPUBuffer): boolean {
    return this.reserved.has(buffer);
  }

  /** After a pass that failed before it finished: its activations and readbacks go back to be kept (nothing ran on them). */
  abandonPass(): void {
    for (const [buffer, e] of [...this.live]) if (e.kind !== 'weight') this.release(buffer);
    this.endPass();
  }

  /** Destroys every buffer, live, kept or reserved (the model is done). */
  destroyAll(): void {
    this.trim();
    for (const b of [...this.live.keys(), ...this.reserved.keys()]) this.destroy(b);
    this.live.clear();
    this.reserved.clear();
    this.liveBytes = this.weightBytes = this.reservedBytes = 0;
    this.handedOut = [];
    this.takenThisPass.clear();
    this.lastPass = [];
  }

  stats(): MemoryStats {
    return { peakBytes: this.peakBytes, liveBytes: this.liveBytes, weightBytes: this.weightBytes, largestBufferBytes: this.largestBufferBytes, reservedBytes: this.reservedBytes };
  }

  /** Starts a new peak measurement from the bytes live now. */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
    this.largestBufferBytes = 0;
  }

  /** A kept buffer of this kind and size (the one the last pass took at this point, if free), else a new one. */
  private take(kind: 'activation' | 'readback', size: number, usage: number, label: string): GPUBuffer {
    const list = this.free.get(freeKey(kind, size));
    let buffer: GPUBuffer | undefined;
    if (list?.length) {
      // Replaying the last pass's choice keeps every dispatch's buffers, and so its cached bind group, the same.
      const replay = list.lastIndexOf(this.lastPass[this.handedOut.length]);
      buffer = replay >= 0 ? list.splice(replay, 1)[0] : list.pop();
      this.reservedBytes -= size;
    }
    if (!buffer) {
      this.dropStale(); // a new shape: the last one's kept buffers go before this one's are created
      buffer = this.create(size, usage, label);
    }
    this.handedOut.push(buffer);
    this.takenThisPass.add(buffer);
    return this.track(buffer, size, kind);
  }

  /** Destroys the kept buffers this pass has not taken: they were another shape's (their work is complete). */
  private dropStale(): void {
    this.dropFree((b) => !this.takenThisPass.has(b));
  }

  private dropFree(drop: (b: GPUBuffer) => boolean): void {
    for (const [key, list] of this.free) {
      const kept: GPUBuffer[] = [];
      for (const b of list) {
        if (!drop(b)) kept.push(b);
        else {
          this.reservedBytes -= b.size;
          this.destroy(b);
        }
      }
      if (kept.length) this.free.set(key, kept);
      else this.free.delete(key);
    }
  }

  private create(size: number, usage: number, label: string): GPUBuffer {
    if (!this.device) return { label, size, destroy() {} } as unknown as GPUBuffer;
    // A storage buffer is bound whole, so the binding limit bounds it; over a limit, WebGPU would only report a
    // validation error later, naming neither the tensor nor the limit.
    const { maxBufferSize, maxStorageBufferBindingSize } = this.device.limits;
    const [limit, name] = usage !== READBACK && maxStorageBufferBindingSize < maxBufferSize ? [maxStorageBufferBindingSize, 'maxStorageBufferBindingSize'] : [maxBufferSize, 'maxBufferSize'];
    if (size > limit) throw new DeviceError(`buffer "${label}" needs ${size} bytes, more than this device's ${name} (${limit} bytes): run fewer tokens in a pass`);
    this.buffersCreated++;
    return this.device.createBuffer({ size, usage, label });
  }

  private destroy(buffer: GPUBuffer): void {
    buffer.destroy();
    this.destroyEpoch++;
  }

  private track(buffer: GPUBuffer, size: number, kind: BufferKind): GPUBuffer {
    this.live.set(buffer, { size, kind });
    this.liveBytes += size;
    if (kind === 'weight') this.weightBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    this.largestBufferBytes = Math.max(this.largestBufferBytes, size);
    return buffer;
  }
}

function freeKey(kind: BufferKind, size: number): string {
  return `${kind}:${size}`;
}
