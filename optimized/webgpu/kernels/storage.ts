// Storage dtypes of the engine's buffers. f32 is plain; f16 *storage* packs two halves per u32 with
// pack2x16float / unpack2x16float (core WGSL, so it runs on every adapter, SwiftShader included), while every
// kernel computes and accumulates in f32. Kernels reach a buffer through accessors this file generates, so one
// kernel source serves both dtypes: the launcher prepends `accessors(...)` for the dtypes of the call.
//
// f16 storage saturates at the largest finite half, +-65504, on the device and on the host alike: WGSL leaves
// pack2x16float of a value past it indeterminate (garbage, not infinity), so every store clamps first.
//
// Accessor widths: a kernel reads and writes a buffer in groups of 2 or 4 consecutive values, so that an f16
// buffer is always written a whole u32 at a time (two threads never share a word). A buffer named `x` read 4
// at a time is declared in the kernel as `array<x_t>` and read with `load_x(i) -> vec4f` (i counts groups).

import { halfToNumber, toFloat16Bits } from '../../../reference/safetensors.ts';

export type DType = 'f32' | 'f16';

/** Bytes of one stored value. */
export function bytesOf(dtype: DType): number {
  return dtype === 'f16' ? 2 : 4;
}

export interface Access {
  /** the binding's variable name in the kernel */
  name: string;
  dtype: DType;
  /** values per load/store */
  width: 2 | 4;
  /** declare store_<name> too (only for read_write bindings: WGSL rejects a write to a read-only one) */
  write?: boolean;
}

const WGSL_TYPE: Record<DType, Record<2 | 4, string>> = { f32: { 2: 'vec2f', 4: 'vec4f' }, f16: { 2: 'u32', 4: 'vec2u' } };

/** WGSL: `alias <name>_t`, `fn load_<name>(i) -> vec{2,4}f` and, if `write`, `fn store_<name>(i, v)`, for each access. */
export function accessors(...list: Access[]): string {
  return list.map(accessor).join('');
}

/** WGSL packing two f32 values (a vec2f expression) into an f16 word, saturated. */
const packHalf = (pair: string) => `pack2x16float(clamp(${pair}, vec2f(-${F16_MAX}.0), vec2f(${F16_MAX}.0)))`;

function accessor({ name, dtype, width, write }: Access): string {
  const vec = `vec${width}f`;
  const [load, store] =
    dtype === 'f32'
      ? [`${name}[i]`, 'v']
      : width === 2
        ? [`unpack2x16float(${name}[i])`, packHalf('v')]
        : [`vec4f(unpack2x16float(${name}[i].x), unpack2x16float(${name}[i].y))`, `vec2u(${packHalf('v.xy')}, ${packHalf('v.zw')})`];
  let s = `alias ${name}_t = ${WGSL_TYPE[dtype][width]};\nfn load_${name}(i: u32) -> ${vec} { return ${load}; }\n`;
  if (write) s += `fn store_${name}(i: u32, v: ${vec}) { ${name}[i] = ${store}; }\n`;
  return s;
}

/**
 * WGSL for a buffer written up to 4 row-contiguous values at a time, the row's last group maybe shorter:
 * `alias <name>_t` and `fn store_<name>_columns(i, v: vec4f, columns)` storing v's first `columns` values at i.
 * f16 stores whole words, so i and columns must be even there (an even row length and groups starting at
 * multiples of 4 guarantee it).
 */
export function columnStore(name: string, dtype: DType): string {
  const body =
    dtype === 'f32'
      ? `for (var c = 0u; c < columns; c++) { ${name}[i + c] = v[c]; }`
      : `${name}[i / 2u] = ${packHalf('v.xy')}; if (columns > 2u) { ${name}[i / 2u + 1u] = ${packHalf('v.zw')}; }`;
  return `alias ${name}_t = ${dtype === 'f32' ? 'f32' : 'u32'};
fn store_${name}_columns(i: u32, v: vec4f, columns: u32) { ${body} }
`;
}

/** Rounds v to the nearest binary16 value (what an f16 buffer stores of it). */
export function roundHalf(v: number): number {
  return halfToNumber(toFloat16Bits([saturate(v)])[0]);
}

/** The largest finite binary16 value. */
export const F16_MAX = 65504;

function saturate(v: number): number {
  return v > F16_MAX ? F16_MAX : v < -F16_MAX ? -F16_MAX : v; // NaN stays NaN
}

/** Values stored in `dtype`: a Float32Array for f32, binary16 bits for f16 (padded to whole u32 words). */
export function encode(values: ArrayLike<number>, dtype: DType): Float32Array | Uint16Array {
  if (dtype === 'f32') return values instanceof Float32Array ? values : Float32Array.from(values);
  let inRange = true;
  for (let i = 0; i < values.length && inRange; i++) inRange = !(Math.abs(values[i]) > F16_MAX);
  const bits = toFloat16Bits(inRange ? values : Array.from(values, saturate));
  if (values.length % 2 === 0) return bits;
  const out = new Uint16Array(values.length + 1);
  out.set(bits);
  return out;
}

/** The first `length` values of a buffer read back as words (a Float32Array), stored in `dtype`. */
export function decode(words: Float32Array, dtype: DType, length: number): Float32Array {
  if (dtype === 'f32') return words.subarray(0, length);
  const bits = new Uint16Array(words.buffer, words.byteOffset, words.length * 2);
  return Float32Array.from({ length }, (_, i) => halfToNumber(bits[i]));
}
