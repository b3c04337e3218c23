import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type SafetensorsFile, type Tensor, encodeSafetensors, parseSafetensors, toBFloat16Bits, toFloat16Bits, toFloat32, toFloat64, toInt32 } from '../../reference/safetensors.ts';
import { GOLDEN, tempDir } from '../helpers.ts';
import { readSafetensors, writeSafetensors } from '../../reference/files.ts';

/** A file with an arbitrary header (object or raw text) followed by `dataBytes` zero bytes. */
function rawFile(header: unknown, dataBytes: number, lengthOverride?: bigint): string {
  const json = typeof header === 'string' ? header : JSON.stringify(header);
  const h = new TextEncoder().encode(json);
  const bytes = new Uint8Array(8 + h.length + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
  bytes.set(h, 8);
  const file = join(tempDir(), 'x.safetensors');
  writeFileSync(file, bytes);
  return file;
}

describe('safetensors round trip', () => {
  it('writes and reads back every dtype, values and metadata intact', () => {
    const tensors: Record<string, Tensor> = {
      f64: { dtype: 'F64', shape: [2, 2], data: Float64Array.from([1.5, -2.25, Math.PI, 1e-300]) },
      f32: { dtype: 'F32', shape: [3], data: Float32Array.from([0.1, -7, 3.5]) },
      f16: { dtype: 'F16', shape: [4], data: toFloat16Bits([1, -0.5, 65504, 2 ** -24]) },
      bf16: { dtype: 'BF16', shape: [2], data: toBFloat16Bits([1, -3]) },
      i64: { dtype: 'I64', shape: [2], data: BigInt64Array.from([5n, -(2n ** 40n)]) },
      i32: { dtype: 'I32', shape: [1, 2], data: Int32Array.from([7, -8]) },
      empty: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
    };
    const file = join(tempDir(), 'all.safetensors');
    writeSafetensors(file, tensors, { format: 'pt' });
    const back = readSafetensors(file);
    expect(back.metadata).toEqual({ format: 'pt' });
    expect([...back.tensors.keys()]).toEqual(Object.keys(tensors));
    for (const [name, t] of Object.entries(tensors)) {
      expect(back.tensors.get(name)!.dtype).toBe(t.dtype);
      expect(back.tensors.get(name)!.shape).toEqual(t.shape);
      expect(back.tensors.get(name)!.data).toEqual(t.data);
    }
    expect([...toFloat64(back.tensors.get('f16')!)]).toEqual([1, -0.5, 65504, 2 ** -24]);
    expect([...toFloat32(back.tensors.get('bf16')!)]).toEqual([1, -3]);
    expect([...toFloat64(back.tensors.get('i64')!)]).toEqual([5, -(2 ** 40)]);
    expect([...toInt32(back.tensors.get('i32')!)]).toEqual([7, -8]);
  });

  it('parses encoded bytes in memory exactly as the file reader reads them', () => {
    const file = join(GOLDEN, 'tiny', 'io.safetensors');
    const fromFile = readSafetensors(file);
    const fromBytes = parseSafetensors(readFileSync(file), file);
    expect([...fromBytes.tensors.keys()]).toEqual([...fromFile.tensors.keys()]);
    for (const [name, t] of fromFile.tensors) expect(fromBytes.tensors.get(name)).toEqual(t);
    const again = parseSafetensors(encodeSafetensors(fromFile.tensors, fromFile.metadata), 'memory');
    expect(again.tensors.get('last_hidden_state_f64')).toEqual(fromFile.tensors.get('last_hidden_state_f64'));
  });

  it('pads the header to a multiple of 8 bytes', () => {
    const bytes = encodeSafetensors({ a: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
  });

  it('rounds to nearest even when encoding f16 and bf16', () => {
    // 1 + 2^-11 is halfway between 1 and the next f16 (1 + 2^-10): ties go to the even mantissa, 1.
    expect(toFloat64({ dtype: 'F16', shape: [2], data: toFloat16Bits([1 + 2 ** -11, 1 + 3 * 2 ** -11]) })).toEqual(Float64Array.from([1, 1 + 2 ** -9]));
    expect(toFloat64({ dtype: 'BF16', shape: [1], data: toBFloat16Bits([1 + 2 ** -8]) })).toEqual(Float64Array.from([1]));
    expect(toFloat64({ dtype: 'F16', shape: [1], data: toFloat16Bits([1e6]) })[0]).toBe(Infinity);
  });

  it('reads the golden io files', () => {
    const io = readSafetensors(join(GOLDEN, 'tiny', 'io.safetensors')).tensors;
    expect(io.get('input_ids')!.dtype).toBe('I32');
    expect(io.get('input_ids')!.shape).toEqual([3, 12]);
    expect(io.get('last_hidden_state_f64')!.dtype).toBe('F64');
  });
});

// Every check runs on both readers: the Node file reader and the in-memory parser a browser uses.
const readers: [string, (file: string) => SafetensorsFile][] = [
  ['file reader', (file) => readSafetensors(file)],
  ['bytes parser', (file) => parseSafetensors(readFileSync(file), file)],
];

describe.each(readers)('safetensors header validation (%s)', (_, read) => {
  const entry = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

  it('rejects a file shorter than the length prefix', () => {
    const file = join(tempDir(), 'short.safetensors');
    writeFileSync(file, new Uint8Array(5));
    expect(() => read(file)).toThrow(/short\.safetensors: 5 bytes is shorter than the 8-byte header length/);
  });

  it('rejects a header length that runs past the end of the file', () => {
    expect(() => read(rawFile({ a: entry }, 8, 10_000n))).toThrow(/header length 10000 runs past the end of the file/);
  });

  it('rejects a header that is not JSON', () => {
    expect(() => read(rawFile('{"a": ', 0))).toThrow(/header is not valid UTF-8 JSON/);
  });

  it('rejects an unknown dtype, naming the tensor', () => {
    expect(() => read(rawFile({ weird: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1))).toThrow(/tensor "weird": unknown dtype "F8_E4M3"/);
  });

  it('rejects offsets out of range (a truncated file)', () => {
    expect(() => read(rawFile({ a: entry }, 4))).toThrow(/tensor "a": data_offsets \[0, 8\] run past the end of the data \(4 bytes\)/);
  });

  it('rejects a byte size that does not match dtype x shape', () => {
    expect(() => read(rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8))).toThrow(/tensor "a": holds 8 bytes, but F32 x \[3\] needs 12/);
  });

  it('rejects overlapping tensors', () => {
    const header = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } };
    expect(() => read(rawFile(header, 12))).toThrow(/tensor "b": its data \[4, 12\] overlaps the previous tensor/);
  });

  it('rejects a gap between tensors', () => {
    const header = { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } };
    expect(() => read(rawFile(header, 12))).toThrow(/tensor "b": its data starts at 8, leaving a gap after byte 4/);
  });

  it('rejects data the header does not describe', () => {
    expect(() => read(rawFile({ a: entry }, 12))).toThrow(/cover 8 bytes of data but the file holds 12/);
  });

  it('rejects a malformed shape or offsets', () => {
    expect(() => read(rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4))).toThrow(/tensor "a": shape \[-1\] is not a list of non-negative integers/);
    expect(() => read(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4))).toThrow(/tensor "a": data_offsets \[4,0\] is not a pair/);
  });

  it('rejects metadata that is not strings', () => {
    expect(() => read(rawFile({ __metadata__: { format: 1 }, a: entry }, 8))).toThrow(/"__metadata__.format" must be a string/);
  });

  it('rejects a corrupt golden file cut short', () => {
    const bytes = encodeSafetensors({ a: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    const file = join(tempDir(), 'cut.safetensors');
    writeFileSync(file, bytes.subarray(0, bytes.length - 3));
    expect(() => read(file)).toThrow(/cut\.safetensors: tensor "a": data_offsets \[0, 16\] run past the end of the data \(13 bytes\)/);
  });
});

describe('safetensors writer', () => {
  it('leaves nothing behind when a tensor is invalid', () => {
    const dir = tempDir();
    const file = join(dir, 'bad.safetensors');
    expect(() => writeSafetensors(file, { a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/tensor "a": 2 values do not fill shape \[3\]/);
    expect(() => writeSafetensors(file, { a: { dtype: 'F16', shape: [1], data: new Float32Array(1) } })).toThrow(/F16 data must be a Uint16Array/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves no partial file when the target cannot be written', () => {
    const dir = tempDir();
    const file = join(dir, 'missing-folder', 'x.safetensors');
    expect(() => writeSafetensors(file, { a: { dtype: 'F32', shape: [1], data: new Float32Array(1) } })).toThrow();
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});
