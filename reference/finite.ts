// The numeric guard: the first NaN or infinity in a forward pass's outputs, named by output, sequence, token
// and feature. Backends return numbers as they come (a NaN fails a parity check anyway); this names where one
// first appears. loadModel's `checkFinite` runs it after every pass, and `parity` reports it.
import type { ForwardOutput } from './modernbert.ts';

export class NumericError extends Error {
  override name = 'NumericError';
}

/** "lastHiddenState[sequence 1, token 3, feature 7] = NaN", or null when every output is finite. */
export function firstNonFinite(out: ForwardOutput): string | null {
  const { cuSeqlens, batchSize } = out.batch;
  const T = cuSeqlens[batchSize];
  const perToken = (name: string, a: ArrayLike<number>): string | null => {
    const width = a.length / T;
    for (let i = 0; i < a.length; i++) {
      if (Number.isFinite(a[i])) continue;
      const t = Math.floor(i / width);
      let b = 0;
      while (cuSeqlens[b + 1] <= t) b++;
      return `${name}[sequence ${b}, token ${t - cuSeqlens[b]}, feature ${i % width}] = ${a[i]}`;
    }
    return null;
  };
  const perSequence = (name: string, a: ArrayLike<number>): string | null => {
    const width = a.length / batchSize;
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return `${name}[sequence ${Math.floor(i / width)}, feature ${i % width}] = ${a[i]}`;
    return null;
  };
  const found = [
    perToken('lastHiddenState', out.lastHiddenState),
    ...(out.hiddenStates ?? []).map((h, layer) => perToken(`hiddenStates[${layer}]`, h)),
    out.mlmLogits && perToken('mlmLogits', out.mlmLogits),
    out.tokenLogits && perToken('tokenLogits', out.tokenLogits),
    ...Object.entries(out.pooled ?? {}).map(([p, a]) => perSequence(`pooled.${p}`, a!)),
    ...Object.entries(out.classifierLogits ?? {}).map(([p, a]) => perSequence(`classifierLogits.${p}`, a!)),
  ];
  return found.find((f) => f) ?? null;
}

/** Throws a NumericError naming the first non-finite output value, prefixed by `what` (the backend). */
export function assertFinite(out: ForwardOutput, what: string): void {
  const found = firstNonFinite(out);
  if (found) throw new NumericError(`${what}: ${found}`);
}
