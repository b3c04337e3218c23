// Benchmark workloads: the paper's four synthetic sets (DESIGN §5, paper §4.1 and Table 10) with seeded
// lengths, ad-hoc batch shapes ("512x4,128x2"), and seeded token ids.
import { seededRandom } from '../reference/checkpoint.ts';

export interface WorkloadSpec {
  /** lengths ~ round-toward-zero(normal(mean, std)) clamped to [min, max]; std 0 = every document at mean */
  mean: number;
  std: number;
  min: number;
  max: number;
}

/** The paper's sets: 8192 documents each, seed 42 (its script draws torch.normal(...).int().clamp(16, max)). */
export const PAPER_WORKLOADS: Record<string, WorkloadSpec> = {
  fixed_short: { mean: 512, std: 0, min: 512, max: 512 },
  variable_short: { mean: 256, std: 64, min: 16, max: 512 },
  fixed_long: { mean: 8192, std: 0, min: 8192, max: 8192 },
  variable_long: { mean: 4096, std: 1024, min: 16, max: 8192 },
};
export const PAPER_DOCUMENTS = 8192;
export const PAPER_SEED = 42;

/** Document lengths of a workload: seeded normal draws (Box-Muller on our xoshiro128**), truncated and clamped. */
export function workloadLengths(spec: WorkloadSpec, documents: number, seed = PAPER_SEED): number[] {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: documents }, () => Math.min(spec.max, Math.max(spec.min, Math.trunc(spec.mean + spec.std * normal()))));
}

export interface Workload {
  /** a paper workload name, or the LENxCOUNT spec itself */
  name: string;
  lengths: number[];
}

/**
 * "variable_short:16" (a paper workload, its first 16 documents), "fixed_long" (one document), or a
 * LENxCOUNT list ("512x4,128").
 */
export function parseWorkload(spec: string, seed = PAPER_SEED): Workload {
  const m = /^([a-z_]+)(?::(\d+))?$/.exec(spec.trim());
  if (m) {
    const paper = PAPER_WORKLOADS[m[1]];
    if (!paper) throw new Error(`workload "${m[1]}" is not one of ${Object.keys(PAPER_WORKLOADS).join(', ')} (or give LENxCOUNT items)`);
    const documents = Number(m[2] ?? 1);
    if (!(documents >= 1 && documents <= PAPER_DOCUMENTS)) throw new Error(`workload "${spec}": the document count must be 1 to ${PAPER_DOCUMENTS}`);
    return { name: m[1], lengths: workloadLengths(paper, documents, seed) };
  }
  return { name: spec.trim(), lengths: parseLengths(spec) };
}

/** "512x4,128" -> [512, 512, 512, 512, 128]. An item without "xCOUNT" is one sequence. */
export function parseLengths(spec: string): number[] {
  const lengths: number[] = [];
  for (const item of spec.split(',')) {
    const m = /^\s*(\d+)(?:x(\d+))?\s*$/.exec(item);
    if (!m || Number(m[1]) === 0 || (m[2] !== undefined && Number(m[2]) === 0)) {
      throw new Error(`--lengths: "${item}" is not LEN or LENxCOUNT with positive integers (e.g. 512x4,128x2)`);
    }
    for (let i = 0; i < Number(m[2] ?? 1); i++) lengths.push(Number(m[1]));
  }
  return lengths;
}

/** One sequence of token ids per length, uniform in [100, min(16000, vocabSize)) from a seed (DESIGN §5). */
export function randomSequences(lengths: readonly number[], vocabSize: number, seed: number): Int32Array[] {
  const random = seededRandom(seed);
  const lo = Math.min(100, vocabSize - 1);
  const hi = Math.min(16000, vocabSize);
  return lengths.map((n) => Int32Array.from({ length: n }, () => lo + Math.floor(random() * (hi - lo))));
}

/** Doubling, then bisection, for the largest B in [1, max] with fits(B); fits must be monotone. */
export async function largestFitting<P>(fits: (B: number) => Promise<P | null>, max: number): Promise<{ batch: number; plan: P } | null> {
  let plan = await fits(1);
  if (!plan) return null;
  let lo = 1;
  let loPlan = plan;
  let hi = 2;
  while (hi <= max && (plan = await fits(hi))) {
    lo = hi;
    loPlan = plan;
    hi *= 2;
  }
  hi = Math.min(hi, max + 1); // hi does not fit (or is past max)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const p = await fits(mid);
    if (p) {
      lo = mid;
      loPlan = p;
    } else hi = mid;
  }
  return { batch: lo, plan: loPlan };
}
