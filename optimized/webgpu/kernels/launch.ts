// What every kernel launcher shares: compiled pipelines (cached per kernel and override constants), one
// command encoder per forward pass, uniform parameters, uploads and readbacks through the buffer pool.
// With no device (planning), dispatches are skipped and only the pool's byte counts move.
import type { GpuContext } from '../device.ts';
import type { BufferPool } from '../memory.ts';

export interface Kernel {
  name: string;
  source: string;
}

/** One uniform field, 4 bytes, in the order of the WGSL `Params` struct. */
export type Param = ['u32' | 'i32' | 'f32', number];

/** Largest workgroup count per grid dimension (WebGPU's default maxComputeWorkgroupsPerDimension). */
export const MAX_GRID = 65535;

/** Splits n workgroups over x and y; shaders recover the index as wg.x + wg.y * num_workgroups.x. */
export function grid(n: number): [number, number] {
  return n <= MAX_GRID ? [Math.max(1, n), 1] : [MAX_GRID, Math.ceil(n / MAX_GRID)];
}

export class Launcher {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;

  constructor(
    readonly ctx: GpuContext | null,
    readonly pool: BufferPool,
  ) {
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

  dispatch(kernel: Kernel, constants: Record<string, number>, buffers: GPUBuffer[], params: Param[], workgroups: [number, number?, number?]): void {
    const uniform = this.pool.uniform(params.length * 4, `${kernel.name}.params`);
    if (this.ctx) {
      const data = new DataView(new ArrayBuffer(Math.max(16, params.length * 4)));
      params.forEach(([type, v], i) => (type === 'f32' ? data.setFloat32(i * 4, v, true) : type === 'i32' ? data.setInt32(i * 4, v, true) : data.setUint32(i * 4, v, true)));
      this.ctx.device.queue.writeBuffer(uniform, 0, data.buffer);
      const pipeline = this.pipeline(kernel, constants);
      const bindGroup = this.ctx.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [...buffers, uniform].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const pass = this.computePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    }
    // The uniform's last use is this dispatch; it is destroyed at the pool's next trim().
    this.pool.release(uniform);
  }

  /** A storage buffer holding `data` (written before the pass runs). */
  upload(data: ArrayBufferView, label: string, kind: 'weight' | 'activation' = 'activation'): GPUBuffer {
    const buffer = this.pool.storage(data.byteLength, label, kind);
    if (this.ctx) this.ctx.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** Submits the work and reads back each buffer's first `floats` values (zeros when planning). */
  async finish(reads: { buffer: GPUBuffer; floats: number }[]): Promise<Float32Array[]> {
    const readbacks = reads.map((r) => this.pool.readback(r.floats * 4, `${r.buffer.label}.readback`));
    if (!this.ctx) {
      readbacks.forEach((b) => this.pool.release(b));
      return reads.map((r) => new Float32Array(r.floats));
    }
    this.ctx.check();
    this.pass?.end();
    this.pass = null;
    const encoder = this.encoder ?? this.ctx.device.createCommandEncoder();
    this.encoder = null;
    reads.forEach((r, i) => encoder.copyBufferToBuffer(r.buffer, 0, readbacks[i], 0, r.floats * 4));
    this.ctx.device.queue.submit([encoder.finish()]);
    const out: Float32Array[] = [];
    try {
      for (const b of readbacks) {
        await b.mapAsync(GPUMapMode.READ);
        out.push(new Float32Array(b.getMappedRange().slice(0)));
        b.unmap();
      }
      await this.ctx.device.queue.onSubmittedWorkDone();
      this.ctx.check();
    } catch (e) {
      this.ctx.check(); // a lost device says so
      throw e;
    } finally {
      readbacks.forEach((b) => this.pool.release(b));
    }
    return out;
  }

  private computePass(): GPUComputePassEncoder {
    this.encoder ??= this.ctx!.device.createCommandEncoder();
    this.pass ??= this.encoder.beginComputePass();
    return this.pass;
  }

  private pipeline(kernel: Kernel, constants: Record<string, number>): GPUComputePipeline {
    const key = `${kernel.name}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const device = this.ctx!.device;
      const module = device.createShaderModule({ code: kernel.source, label: kernel.name });
      p = device.createComputePipeline({ layout: 'auto', label: key, compute: { module, entryPoint: 'main', constants } });
      this.pipelines.set(key, p);
    }
    return p;
  }
}
