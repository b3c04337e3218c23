// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}), then the data.
// Offsets are relative to the start of the data. Every check the format implies is made before any data is
// read, and every error names the file and the tensor or field at fault. This module parses and encodes bytes
// (it runs in a browser); reference/files.ts reads and writes files in Node.

export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';
export type TensorData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array;

/** One tensor. F16 and BF16 data are the raw 16-bit patterns; use toFloat32/toFloat64 to decode. */
export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export const DTYPE_BYTES: Record<DType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };

const STORAGE: Record<DType, new (buffer: ArrayBuffer) => TensorData> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
};

// A header larger than this is corrupt, not a model (the official library uses the same bound).
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s);
}

/**
 * Validates a parsed header against the size of the data section. Returns the entries sorted by offset.
 * Checks: every entry is an object with a known dtype, a shape of non-negative integers and two ordered
 * offsets; byte size = dtype size x product of shape; entries are contiguous, start at 0, do not overlap
 * and cover the data section exactly.
 */
export function validateHeader(header: unknown, dataBytes: number, file: string): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError(`${file}: the header is not a JSON object`);
  }
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new SafetensorsError(`${file}: "__metadata__" must be an object of strings`);
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new SafetensorsError(`${file}: "__metadata__.${k}" must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${file}: tensor "${name}"`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new SafetensorsError(`${where}: the header entry is not an object`);
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isDType(dtype)) {
      throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new SafetensorsError(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataBytes) {
      throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataBytes} bytes): the file is truncated or corrupt`);
    }
    const expected = DTYPE_BYTES[dtype] * elementCount(shape);
    if (end - begin !== expected) {
      throw new SafetensorsError(`${where}: holds ${end - begin} bytes, but ${dtype} x [${shape.join(', ')}] needs ${expected}`);
    }
    entries.push({ name, dtype, shape: shape.slice(), begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin < cursor) throw new SafetensorsError(`${file}: tensor "${e.name}": its data [${e.begin}, ${e.end}] overlaps the previous tensor (which ends at ${cursor})`);
    if (e.begin > cursor) throw new SafetensorsError(`${file}: tensor "${e.name}": its data starts at ${e.begin}, leaving a gap after byte ${cursor}`);
    cursor = e.end;
  }
  if (cursor !== dataBytes) {
    throw new SafetensorsError(`${file}: the tensors cover ${cursor} bytes of data but the file holds ${dataBytes}: the header does not describe the whole file`);
  }
  return { entries, metadata };
}

/**
 * The header length from the first 8 bytes, checked against the file size. Shared by the in-memory parser
 * and the file reader.
 */
export function headerLength(first8: Uint8Array, fileBytes: number, file: string): number {
  if (fileBytes < 8) throw new SafetensorsError(`${file}: ${fileBytes} bytes is shorter than the 8-byte header length: the file is truncated`);
  const n = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES) throw new SafetensorsError(`${file}: header length ${n} exceeds ${MAX_HEADER_BYTES} bytes: the file is corrupt`);
  if (8 + n > fileBytes) throw new SafetensorsError(`${file}: the header length ${n} runs past the end of the file (${fileBytes} bytes): the file is truncated`);
  return n;
}

/** Parses and validates the JSON header. Entries come back in the header's own (JSON object) order. */
export function parseHeader(headerBytes: Uint8Array, dataBytes: number, file: string): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(`${file}: the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  const { entries, metadata } = validateHeader(header, dataBytes, file);
  // Keep the header's own order for callers that list tensors.
  const byName = new Map(entries.map((e) => [e.name, e]));
  const order = Object.keys(header as object).filter((k) => k !== '__metadata__');
  return { entries: order.map((name) => byName.get(name)!), metadata };
}

/** A tensor over a buffer holding exactly its data (safetensors is little-endian, as are typed arrays everywhere we run). */
export function tensorOver(e: HeaderEntry, buffer: ArrayBuffer): Tensor {
  return { dtype: e.dtype, shape: e.shape, data: new STORAGE[e.dtype](buffer) };
}

// A fresh ArrayBuffer with exactly these bytes (aligned for any typed array). Not bytes.slice(): on a Node
// Buffer, slice is a view into a shared pool.
function copyOf(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

/** Parses safetensors bytes already in memory (a fetched file in a browser). `file` names it in errors. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const n = headerLength(bytes.subarray(0, 8), bytes.length, file);
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, file);
  const tensors = new Map(entries.map((e) => [e.name, tensorOver(e, copyOf(bytes.subarray(dataStart + e.begin, dataStart + e.end)))]));
  return { tensors, metadata };
}

/** Serializes tensors to the safetensors byte layout (header padded with spaces to a multiple of 8). */
export function encodeSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new SafetensorsError(`tensor name "__metadata__" is reserved`);
    if (!isDType(t.dtype)) throw new SafetensorsError(`tensor "${name}": unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!(t.data instanceof STORAGE[t.dtype])) {
      throw new SafetensorsError(`tensor "${name}": ${t.dtype} data must be a ${STORAGE[t.dtype].name}, got ${t.data.constructor.name}`);
    }
    if (t.data.length !== elementCount(t.shape)) {
      throw new SafetensorsError(`tensor "${name}": ${t.data.length} values do not fill shape [${t.shape.join(', ')}]`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  const encoder = new TextEncoder();
  json += ' '.repeat((8 - ((encoder.encode(json).length + 8) % 8)) % 8);
  const headerBytes = encoder.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of list) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

// ---- dtype conversion ----

/** The value of IEEE half precision bits. */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function decode(t: Tensor, out: Float32Array | Float64Array, what: string): void {
  const d = t.data;
  switch (t.dtype) {
    case 'F64':
    case 'F32':
    case 'I32':
      out.set(d as Float64Array);
      return;
    case 'F16':
      for (let i = 0; i < d.length; i++) out[i] = halfToNumber((d as Uint16Array)[i]);
      return;
    case 'BF16': {
      // bf16 is the top half of an f32.
      const bits = new Uint32Array(d.length);
      for (let i = 0; i < d.length; i++) bits[i] = (d as Uint16Array)[i] << 16;
      out.set(new Float32Array(bits.buffer));
      return;
    }
    case 'I64':
      for (let i = 0; i < d.length; i++) {
        const v = (d as BigInt64Array)[i];
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw new SafetensorsError(`${what}: I64 value ${v} at index ${i} is not exactly representable`);
        out[i] = Number(v);
      }
      return;
  }
}

export function toFloat32(t: Tensor, what = 'tensor'): Float32Array {
  if (t.dtype === 'F32') return t.data as Float32Array;
  const out = new Float32Array(t.data.length);
  decode(t, out, what);
  return out;
}

export function toFloat64(t: Tensor, what = 'tensor'): Float64Array {
  if (t.dtype === 'F64') return t.data as Float64Array;
  const out = new Float64Array(t.data.length);
  decode(t, out, what);
  return out;
}

/** Integer tensors (I32, I64) as Int32Array; values outside int32 are an error naming the tensor. */
export function toInt32(t: Tensor, what = 'tensor'): Int32Array {
  if (t.dtype === 'I32') return t.data as Int32Array;
  if (t.dtype !== 'I64') throw new SafetensorsError(`${what}: expected an integer tensor (I32 or I64), got ${t.dtype}`);
  const d = t.data as BigInt64Array;
  const out = new Int32Array(d.length);
  for (let i = 0; i < d.length; i++) {
    if (d[i] > 2147483647n || d[i] < -2147483648n) throw new SafetensorsError(`${what}: value ${d[i]} at index ${i} does not fit in int32`);
    out[i] = Number(d[i]);
  }
  return out;
}

/** Encodes numbers as IEEE half precision bit patterns (round to nearest even), for writing F16. */
export function toFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    out[i] = Math.fround(x) === x ? float32ToHalf(x) : numberToHalf(x);
  }
  return out;
}

const float32View = new Float32Array(1);
const float32Bits = new Uint32Array(float32View.buffer);

/** Half bits of an f32 value, from its bits (about 8x faster than numberToHalf: weights are f32). */
function float32ToHalf(x: number): number {
  float32View[0] = x;
  const bits = float32Bits[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (exponent >= 0x1f) return sign | 0x7c00; // overflow and infinity (NaN never comes here: fround(NaN) !== NaN)
  // Normal halves keep 10 of the 23 mantissa bits; subnormal ones (exponent <= 0) shift the implicit 1 in too.
  const shift = exponent > 0 ? 13 : 14 - exponent;
  if (shift > 24) return sign;
  const full = exponent > 0 ? mantissa : mantissa | 0x800000;
  const half = (exponent > 0 ? exponent << 10 : 0) | (full >>> shift);
  const rest = full & ((1 << shift) - 1);
  const tie = 1 << (shift - 1);
  return sign | (rest > tie || (rest === tie && half & 1) ? half + 1 : half); // a carry into the exponent rounds right
}

/** Half bits of any number (exact for doubles: one rounding, no stop at f32). */
function numberToHalf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (Number.isNaN(x)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00; // rounds to infinity
  if (a < 2 ** -14) return sign | roundHalfEven(a / 2 ** -24); // subnormal (may round up to the smallest normal)
  let exponent = Math.floor(Math.log2(a));
  if (2 ** exponent > a) exponent--; // guard against log2 rounding up
  let mantissa = roundHalfEven((a / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent++;
  }
  return sign | ((exponent + 15) << 10) | mantissa;
}

/** x rounded to the nearest half-precision value (Node 20 has no Math.f16round). */
export function roundToHalf(x: number): number {
  return halfToNumber(Math.fround(x) === x ? float32ToHalf(x) : numberToHalf(x));
}

/** Encodes numbers as bfloat16 bit patterns (round the f32 value to nearest even), for writing BF16. */
export function toBFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const f = Float32Array.from(values);
  const bits = new Uint32Array(f.buffer);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const b = bits[i];
    if (Number.isNaN(f[i])) out[i] = 0x7fc0;
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
