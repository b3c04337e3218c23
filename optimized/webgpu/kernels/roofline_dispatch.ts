// Launcher for roofline_dispatch.wgsl: the cost of a dispatch that does nothing (roofline.ts times a chain of them).
import type { RooflinePlan } from './launch.ts';
import source from './roofline_dispatch.wgsl';

export interface DispatchShape {
  /** dispatches per timed run, in one compute pass */
  dispatches: number;
}

export function plan(s: DispatchShape): RooflinePlan {
  return { kernel: { name: 'roofline_dispatch', source }, buffers: [16], params: [], workgroups: [1, 1], repeats: s.dispatches, work: { flops: 0, bytes: 0 } };
}
