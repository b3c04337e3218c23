// What every kernel launcher shares: compiled pipelines (cached per device, kernel and override constants, so
// a second model on a device compiles nothing), one
// command encoder per forward pass, uploads and readbacks through the buffer pool. A steady pass allocates
// nothing: each dispatch's parameters go into a slot of a uniform ring written once per pass, and bind
// groups are cached by pipeline, buffers and slot (the pool hands a repeated pass the same buffers in the
// same order, so every key repeats). The launcher counts each pass (dispatches, host encode time) and can
// profile it: a timestamp pair per dispatch, or wall time per dispatch where the adapter has no
// timestamp-query. With no device (planning), dispatches are only counted and only the pool's bytes move.
import type { GpuContext } from '../device.ts';
import type { BufferPool } from '../memory.ts';

export interface Kernel {
  name: string;
  source: string;
}

/** One uniform field, 4 bytes, in the order of the WGSL `Params` struct. */
export type Param = ['u32' | 'i32' | 'f32', number];

/** What one dispatch does, from its launcher's flops()/bytes(): the profiler turns it into GFLOP/s and GB/s. */
export interface Work {
  flops: number;
  bytes: number;
}

/** Largest workgroup count per grid dimension (WebGPU's default maxComputeWorkgroupsPerDimension). */
export const MAX_GRID = 65535;

/**
 * A kernel's source with generated code at its `// @name` or `// @name(arg)` lines: each line is replaced by
 * parts[name](arg), indented as the line was (the register tiles of gemm_v3, gemm_v4 and gemm_sgmat are named
 * variables written out this way). `file` names the source in the error for a missing line.
 */
export function withGeneratedCode(source: string, file: string, parts: Record<string, (arg: string) => string[]>): string {
  let out = source;
  for (const [name, lines] of Object.entries(parts)) {
    const marker = new RegExp(`^( *)// @${name}(?:\\((.*)\\))?$`, 'gm');
    if (!marker.test(out)) throw new Error(`${file} has no "// @${name}" line`);
    out = out.replace(marker, (_, indent: string, arg: string) => lines(arg).map((l) => indent + l).join('\n'));
  }
  return out;
}

/** Splits n workgroups over x and y; shaders recover the index as wg.x + wg.y * num_workgroups.x. */
export function grid(n: number): [number, number] {
  return n <= MAX_GRID ? [Math.max(1, n), 1] : [MAX_GRID, Math.ceil(n / MAX_GRID)];
}

/** What one pass (everything up to a finish()) cost the host. */
export interface PassStats {
  dispatches: number;
  /** host milliseconds from the pass's first dispatch to its submit: launchers, pool, uniforms, bind groups, encoding */
  encodeMs: number;
  /** bind groups created; 0 when every dispatch found its own cached */
  bindGroupsCreated: number;
  /** device buffers the pool created since the previous finish(); 0 in a steady pass */
  buffersCreated: number;
  /** bind groups the launcher's cache holds after the pass (bounded: it is emptied when the pool destroys a buffer) */
  bindGroupsCached: number;
}

/** What a roofline kernel's launcher plans: its source, buffers and grid, and the work of one dispatch. */
export interface RooflinePlan {
  kernel: Kernel;
  /** bytes of each storage buffer, bindings 0, 1, ... in order */
  buffers: number[];
  /** the uniform Params, bound after the storage buffers; none when empty */
  params: Param[];
  workgroups: [number, number];
  /** dispatches per timed run, back to back in one compute pass */
  repeats: number;
  /** per dispatch */
  work: Work;
}

/**
 * How the profiler times a dispatch: `timestamp`, GPU timestamps at the begin and end of the dispatch's own
 * compute pass; `wall`, the host's wall time to submit the dispatch alone and see the queue finish (for
 * adapters without timestamp-query; it includes the submit's overhead).
 */
export type ProfileTimer = 'timestamp' | 'wall';

export interface DispatchProfile {
  kernel: string;
  constants: Record<string, number>;
  workgroups: [number, number, number];
  work: Work | null;
  /** nanoseconds, measured by `timer` */
  ns: number;
  timer: ProfileTimer;
}

/** The best timer this device offers. */
export function bestTimer(ctx: GpuContext): ProfileTimer {
  return ctx.features.timestampQuery ? 'timestamp' : 'wall';
}

// GPUBufferUsage bits as constants (planning runs without the WebGPU globals).
const UNIFORM = 0x40 | 0x8; // UNIFORM | COPY_DST
const QUERY_RESOLVE = 0x200 | 0x4; // QUERY_RESOLVE | COPY_SRC
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST

/** Slots per uniform buffer of the ring: a pass of ModernBERT-base (about 180 dispatches) fits in one. */
const SLOTS_PER_CHUNK = 256;
/** Dispatches per timestamp query set (two queries each; WebGPU allows 4096 queries per set). */
const DISPATCHES_PER_QUERY_SET = 256;

interface UniformSlot {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/**
 * Every dispatch's parameters in its own slot (minUniformBufferOffsetAlignment apart) of a few persistent
 * uniform buffers, filled on the host and written with one writeBuffer per buffer per pass.
 */
class UniformRing {
  private chunks: { buffer: GPUBuffer; data: DataView }[] = [];
  private used = 0;

  constructor(
    private readonly pool: BufferPool,
    private readonly stride: number,
  ) {}

  take(params: Param[]): UniformSlot {
    const size = Math.max(16, Math.ceil((params.length * 4) / 16) * 16);
    if (size > this.stride) throw new Error(`${params.length} uniform parameters exceed a ${this.stride}-byte uniform slot`);
    if (this.used === 0 && this.chunks.length && !this.pool.isReserved(this.chunks[0].buffer)) this.chunks = []; // the pool was emptied
    const chunkIndex = Math.floor(this.used / SLOTS_PER_CHUNK);
    if (chunkIndex === this.chunks.length) {
      const bytes = SLOTS_PER_CHUNK * this.stride;
      this.chunks.push({ buffer: this.pool.reserve(bytes, UNIFORM, `uniforms.${chunkIndex}`), data: new DataView(new ArrayBuffer(bytes)) });
    }
    const { buffer, data } = this.chunks[chunkIndex];
    const offset = (this.used++ % SLOTS_PER_CHUNK) * this.stride;
    for (let i = 0; i < size / 4; i++) {
      const [type, v] = params[i] ?? ['u32', 0];
      if (type === 'f32') data.setFloat32(offset + i * 4, v, true);
      else if (type === 'i32') data.setInt32(offset + i * 4, v, true);
      else data.setUint32(offset + i * 4, v, true);
    }
    return { buffer, offset, size };
  }

  /** Writes the pass's slots to the GPU (before the submit that reads them). */
  flush(queue: GPUQueue): void {
    for (let c = 0; c * SLOTS_PER_CHUNK < this.used; c++) {
      const slots = Math.min(SLOTS_PER_CHUNK, this.used - c * SLOTS_PER_CHUNK);
      queue.writeBuffer(this.chunks[c].buffer, 0, this.chunks[c].data.buffer, 0, slots * this.stride);
    }
  }

  /** The next pass starts at slot 0 again (the previous one's GPU work is complete). */
  reset(): void {
    this.used = 0;
  }
}

/** Timestamp query sets, their resolve buffers and readbacks, kept across passes. */
class TimestampQueries {
  private sets: { querySet: GPUQuerySet; resolve: GPUBuffer; readback: GPUBuffer }[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
  ) {}

  /** The timestampWrites of the pass of dispatch number `index`. */
  writes(index: number): GPUComputePassTimestampWrites {
    if (index === 0 && this.sets.length && !this.pool.isReserved(this.sets[0].resolve)) this.dispose();
    const s = Math.floor(index / DISPATCHES_PER_QUERY_SET);
    if (s === this.sets.length) {
      const bytes = DISPATCHES_PER_QUERY_SET * 2 * 8;
      this.sets.push({
        querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * DISPATCHES_PER_QUERY_SET, label: `timestamps.${s}` }),
        resolve: this.pool.reserve(bytes, QUERY_RESOLVE, `timestamps.${s}.resolve`),
        readback: this.pool.reserve(bytes, READBACK, `timestamps.${s}.readback`),
      });
    }
    const i = index % DISPATCHES_PER_QUERY_SET;
    return { querySet: this.sets[s].querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Encodes the copy of `count` dispatches' timestamps to the readbacks. */
  resolve(encoder: GPUCommandEncoder, count: number): void {
    this.each(count, (set, n) => {
      encoder.resolveQuerySet(set.querySet, 0, 2 * n, set.resolve, 0);
      encoder.copyBufferToBuffer(set.resolve, 0, set.readback, 0, 2 * n * 8);
    });
  }

  /** Each dispatch's end - begin, in nanoseconds (after the submit of resolve()). */
  async read(count: number): Promise<number[]> {
    const ns: number[] = [];
    const reads: Promise<void>[] = [];
    this.each(count, (set, n) => reads.push(set.readback.mapAsync(GPUMapMode.READ, 0, 2 * n * 8)));
    await Promise.all(reads);
    this.each(count, (set, n) => {
      const t = new BigInt64Array(set.readback.getMappedRange(0, 2 * n * 8));
      for (let i = 0; i < n; i++) ns.push(Math.max(0, Number(t[2 * i + 1] - t[2 * i])));
      set.readback.unmap();
    });
    return ns;
  }

  dispose(): void {
    for (const s of this.sets) s.querySet.destroy();
    this.sets = [];
  }

  private each(count: number, f: (set: TimestampQueries['sets'][number], n: number) => void): void {
    for (let s = 0; s * DISPATCHES_PER_QUERY_SET < count; s++) f(this.sets[s], Math.min(DISPATCHES_PER_QUERY_SET, count - s * DISPATCHES_PER_QUERY_SET));
  }
}

interface PendingDispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

// Compiled pipelines, per device: every launcher (model) on a device shares them.
const pipelinesByDevice = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

export class Launcher {
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private bindGroupEpoch = -1;
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  private readonly uniforms: UniformRing | null;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;

  private timer: ProfileTimer | null = null;
  private timestamps: TimestampQueries | null = null;
  /** wall-time profiling: the pass's dispatches, submitted one by one in finish() */
  private pending: PendingDispatch[] = [];
  private records: Omit<DispatchProfile, 'ns'>[] = [];
  private lastProfile: DispatchProfile[] = [];

  private current = { dispatches: 0, bindGroupsCreated: 0, encodeStart: null as number | null, encodeMs: 0 };
  private buffersAtLastFinish: number;
  private last: PassStats = { dispatches: 0, encodeMs: 0, bindGroupsCreated: 0, buffersCreated: 0, bindGroupsCached: 0 };

  constructor(
    readonly ctx: GpuContext | null,
    readonly pool: BufferPool,
  ) {
    this.buffersAtLastFinish = pool.buffersCreated; // the first pass's count includes what the launcher and model create
    this.uniforms = ctx ? new UniformRing(pool, Math.max(256, ctx.device.limits.minUniformBufferOffsetAlignment)) : null;
    this.absent = {
      bias: pool.storage(16, 'absent bias', 'weight'),
      residual: pool.storage(16, 'absent residual', 'weight'),
      sequsedK: pool.storage(16, 'absent sequsedK', 'weight'),
    };
  }

  /**
   * Placeholder storage buffers for absent optional inputs, one per role (binding one buffer to two bindings
   * of a dispatch is legal, but the roles keep them apart). Made once, resident like the weights.
   */
  readonly absent: Record<'bias' | 'residual' | 'sequsedK', GPUBuffer>;

  dispatch(kernel: Kernel, constants: Record<string, number>, buffers: GPUBuffer[], params: Param[], workgroups: [number, number?, number?], work?: Work): void {
    const index = this.current.dispatches++;
    if (!this.ctx) return;
    this.current.encodeStart ??= performance.now();
    const size: [number, number, number] = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    const uniform = this.uniforms!.take(params);
    const [pipeline, pipelineKey] = this.pipeline(kernel, constants);
    const bindGroup = this.bindGroup(pipeline, pipelineKey, buffers, uniform);
    if (this.timer) this.records.push({ kernel: kernel.name, constants, workgroups: size, work: work ?? null, timer: this.timer });
    if (this.timer === 'wall') {
      this.pending.push({ pipeline, bindGroup, workgroups: size });
      return;
    }
    let pass: GPUComputePassEncoder;
    if (this.timer === 'timestamp') {
      this.endComputePass(); // each dispatch in its own pass, between its timestamps
      this.encoder ??= this.ctx.device.createCommandEncoder();
      pass = this.encoder.beginComputePass({ timestampWrites: this.timestamps!.writes(index) });
    } else pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...size);
    if (this.timer === 'timestamp') pass.end();
  }

  /** A storage buffer holding `data` (written before the pass runs). */
  upload(data: ArrayBufferView, label: string, kind: 'weight' | 'activation' = 'activation'): GPUBuffer {
    const buffer = this.pool.storage(data.byteLength, label, kind);
    if (this.ctx) this.ctx.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** Submits the pass and reads back each buffer's first `floats` values (zeros when planning). */
  async finish(reads: { buffer: GPUBuffer; floats: number }[]): Promise<Float32Array[]> {
    const readbacks = reads.map((r) => this.pool.readback(r.floats * 4, `${r.buffer.label}.readback`));
    if (!this.ctx) {
      readbacks.forEach((b) => this.pool.release(b));
      this.closePass([]);
      return reads.map((r) => new Float32Array(r.floats));
    }
    const { device } = this.ctx;
    const dispatches = this.current.dispatches;
    let times: number[] = [];
    const out: Float32Array[] = [];
    try {
      this.ctx.check();
      this.uniforms!.flush(device.queue);
      if (this.timer === 'wall') times = await this.runTimedOneByOne();
      this.endComputePass();
      const encoder = this.encoder ?? device.createCommandEncoder();
      this.encoder = null;
      if (this.timer === 'timestamp') this.timestamps!.resolve(encoder, dispatches);
      reads.forEach((r, i) => encoder.copyBufferToBuffer(r.buffer, 0, readbacks[i], 0, r.floats * 4));
      this.stopEncodeClock();
      device.queue.submit([encoder.finish()]);
      for (const [i, b] of readbacks.entries()) {
        await b.mapAsync(GPUMapMode.READ);
        out.push(new Float32Array(b.getMappedRange(0, reads[i].floats * 4).slice(0))); // the buffer may be rounded up
        b.unmap();
      }
      if (this.timer === 'timestamp') times = await this.timestamps!.read(dispatches);
      await device.queue.onSubmittedWorkDone();
      this.ctx.check();
    } catch (e) {
      this.ctx.check(); // a lost device says so
      throw e;
    } finally {
      readbacks.forEach((b) => this.pool.release(b));
      this.closePass(times);
    }
    return out;
  }

  /** The counters of the last finished pass. */
  passStats(): PassStats {
    return { ...this.last };
  }

  /**
   * Profiles every following pass, with the given timer (default: timestamp-query where the device has it,
   * else wall time), or stops profiling (null). Call between passes.
   */
  setProfiling(timer: ProfileTimer | null = this.ctx ? bestTimer(this.ctx) : null): void {
    if (this.current.dispatches) throw new Error('setProfiling: a pass is being encoded; call it between passes (after finish())');
    if (timer && !this.ctx) throw new Error('setProfiling: a planning launcher (no device) has nothing to time');
    if (timer === 'timestamp' && !this.ctx!.features.timestampQuery) throw new Error('setProfiling: this adapter has no timestamp-query feature; use the wall timer');
    if (timer === 'timestamp') this.timestamps ??= new TimestampQueries(this.ctx!.device, this.pool);
    this.timer = timer;
  }

  get profiling(): ProfileTimer | null {
    return this.timer;
  }

  /** Each dispatch of the last finished pass, timed (empty unless profiling). */
  profile(): DispatchProfile[] {
    return this.lastProfile;
  }

  /** Releases what the launcher holds outside the pool (query sets) and its bind groups; the pool's destroyAll() frees the buffers (the device keeps the pipelines). */
  dispose(): void {
    this.timestamps?.dispose();
    this.timestamps = null;
    this.timer = null;
    this.bindGroups.clear();
  }

  /** Wall-time profiling: each recorded dispatch submitted alone, timed to the queue's completion. */
  private async runTimedOneByOne(): Promise<number[]> {
    const { device } = this.ctx!;
    this.stopEncodeClock();
    await device.queue.onSubmittedWorkDone(); // uploads and uniforms first, outside the timings
    const ns: number[] = [];
    for (const d of this.pending) {
      const start = performance.now();
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(...d.workgroups);
      pass.end();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      ns.push((performance.now() - start) * 1e6);
    }
    return ns;
  }

  private stopEncodeClock(): void {
    const start = this.current.encodeStart;
    if (start !== null) this.current.encodeMs = performance.now() - start;
    this.current.encodeStart = null;
  }

  /** Drops a pass that failed while it was encoded (nothing of it is submitted): a clean state for the next. */
  abandon(): void {
    this.closePass([]);
  }

  /** Closes the pass's books, whether it ran or failed: counters, profile, and a clean encoder state for the next. */
  private closePass(times: number[]): void {
    this.stopEncodeClock();
    this.last = {
      dispatches: this.current.dispatches,
      encodeMs: this.current.encodeMs,
      bindGroupsCreated: this.current.bindGroupsCreated,
      buffersCreated: this.pool.buffersCreated - this.buffersAtLastFinish,
      bindGroupsCached: this.bindGroups.size,
    };
    this.lastProfile = times.length === this.records.length ? this.records.map((r, i) => ({ ...r, ns: times[i] })) : [];
    this.buffersAtLastFinish = this.pool.buffersCreated;
    this.current = { dispatches: 0, bindGroupsCreated: 0, encodeStart: null, encodeMs: 0 };
    this.records = [];
    this.pending = [];
    this.pass = null;
    this.encoder = null;
    this.uniforms?.reset();
  }

  private computePass(): GPUComputePassEncoder {
    this.encoder ??= this.ctx!.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    return this.pass;
  }

  private endComputePass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private pipeline(kernel: Kernel, constants: Record<string, number>): [GPUComputePipeline, string] {
    const key = `${kernel.name}:${JSON.stringify(constants)}`;
    const device = this.ctx!.device;
    let pipelines = pipelinesByDevice.get(device);
    if (!pipelines) pipelinesByDevice.set(device, (pipelines = new Map()));
    let p = pipelines.get(key);
    if (!p) {
      const module = device.createShaderModule({ code: kernel.source, label: kernel.name });
      p = device.createComputePipeline({ layout: 'auto', label: key, compute: { module, entryPoint: 'main', constants } });
      pipelines.set(key, p);
    }
    return [p, key];
  }

  /** The bind group of these buffers and uniform slot, made once; dropped when the pool destroys any buffer. */
  private bindGroup(pipeline: GPUComputePipeline, pipelineKey: string, buffers: GPUBuffer[], uniform: UniformSlot): GPUBindGroup {
    if (this.bindGroupEpoch !== this.pool.destroyEpoch) {
      this.bindGroups.clear();
      this.bindGroupEpoch = this.pool.destroyEpoch;
    }
    const key = `${pipelineKey}|${buffers.map((b) => this.bufferId(b)).join(',')}|${this.bufferId(uniform.buffer)}@${uniform.offset}+${uniform.size}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      group = this.ctx!.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [...buffers.map((buffer, binding) => ({ binding, resource: { buffer } })), { binding: buffers.length, resource: uniform }],
      });
      this.bindGroups.set(key, group);
      this.current.bindGroupsCreated++;
    }
    return group;
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(buffer, id);
    }
    return id;
  }
}
