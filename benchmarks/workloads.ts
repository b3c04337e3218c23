// Batch shapes for benchmarks: "LENxCOUNT" items separated by commas ("512x4,128x2"), and seeded token ids.
import { seededRandom } from '../reference/checkpoint.ts';

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
