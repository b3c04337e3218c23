// The bench page's workloads sized to the visitor's adapter: a paper workload named without a document count
// gets the most of its documents whose forward pass the engine's own allocation plan (planMemory: no kernels
// run) fits, every buffer within the adapter's binding limit and the peak within the page's memory budget,
// up to a cap on real tokens per batch so that a run ends in reasonable time. A workload with a count, or
// LENxCOUNT shapes, runs as given when it fits.
import type { ModernBertConfig } from '../../reference/config.ts';
import { type MemoryPlan, planMemory } from '../../optimized/webgpu/modernbert.ts';
import type { DType } from '../../optimized/webgpu/kernels/storage.ts';
import { formatBytes, formatCount } from '../../reports/format.ts';
import { PAPER_DOCUMENTS, PAPER_WORKLOADS, type Workload, largestFitting, parseWorkload, workloadLengths } from '../workloads.ts';

export interface SizingLimits {
  /** the largest buffer the engine may bind: the adapter's maxStorageBufferBindingSize and maxBufferSize, the smaller */
  bindingBytes: number;
  /** the planned peak of live GPU buffers a pass may reach (a browser does not say how much memory its GPU has) */
  budgetBytes: number;
  /** real tokens per batch, at most */
  maxTokens: number;
}

export type SizedWorkload = { workload: Workload; why: string } | { skipped: string };

const tokensOf = (lengths: readonly number[]) => lengths.reduce((a, b) => a + b, 0);
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** What stops a batch of `lengths` from running under `limits`, or null (with its plan) when it fits. */
async function overLimit(config: ModernBertConfig, lengths: readonly number[], limits: SizingLimits, dtype: DType): Promise<{ over: string | null; plan: MemoryPlan | null }> {
  const tokens = tokensOf(lengths);
  if (tokens > limits.maxTokens) return { over: `${formatCount(tokens)} real tokens, over the cap of ${formatCount(limits.maxTokens)}`, plan: null };
  const plan = await planMemory(config, lengths, {}, dtype);
  if (plan.largest_buffer_bytes > limits.bindingBytes) return { over: `a ${formatBytes(plan.largest_buffer_bytes)} buffer, over the adapter's ${formatBytes(limits.bindingBytes)} binding limit`, plan };
  if (plan.peak_bytes > limits.budgetBytes) return { over: `a planned peak of ${formatBytes(plan.peak_bytes)}, over the ${formatBytes(limits.budgetBytes)} budget`, plan };
  return { over: null, plan };
}

/** A workload spec as the page takes it: "fixed_short" (sized here), "fixed_short:16" or "512x4,128" (as given). */
export async function sizeWorkload(config: ModernBertConfig, spec: string, limits: SizingLimits, seed: number, dtype: DType = 'f32'): Promise<SizedWorkload> {
  const paper = PAPER_WORKLOADS[spec.trim()];
  if (!paper) {
    let workload: Workload;
    try {
      workload = parseWorkload(spec, seed);
    } catch (e) {
      return { skipped: `${spec}: ${(e as Error).message}` };
    }
    const { over, plan } = await overLimit(config, workload.lengths, limits, dtype);
    if (over) return { skipped: `${spec}: ${over}` };
    return { workload, why: `${plural(workload.lengths.length, 'sequence')} as asked; planned peak ${formatBytes(plan!.peak_bytes)}` };
  }
  const lengthsOf = (documents: number) => workloadLengths(paper, documents, seed);
  const best = await largestFitting(async (documents) => {
    const { over, plan } = await overLimit(config, lengthsOf(documents), limits, dtype);
    return over ? null : plan;
  }, PAPER_DOCUMENTS);
  if (!best) return { skipped: `${spec}: not even one document fits (${(await overLimit(config, lengthsOf(1), limits, dtype)).over})` };
  const stop = best.batch === PAPER_DOCUMENTS ? `all ${PAPER_DOCUMENTS} of the paper's documents` : `${best.batch + 1} would need ${(await overLimit(config, lengthsOf(best.batch + 1), limits, dtype)).over}`;
  return {
    workload: { name: spec.trim(), lengths: lengthsOf(best.batch) },
    why: `sized to this adapter: ${plural(best.batch, 'document')}, planned peak ${formatBytes(best.plan.peak_bytes)}, largest buffer ${formatBytes(best.plan.largest_buffer_bytes)}; ${stop}`,
  };
}
