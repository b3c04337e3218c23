// Another implementation's outputs, for `modernbert parity <case> --outputs FILE`: safetensors (every tensor),
// .npy (one array, named by `name=FILE.npy` or by the file's stem), .npz (numpy.savez / savez_compressed: each
// member `<name>.npy` is output `<name>`) or JSON (an object of nested arrays), with the golden names
// (last_hidden_state, hidden_states, mlm_logits, cls_logits, mean_logits, token_logits, start_logits,
// end_logits) or others renamed by --map their=ours. Per-token outputs may be padded ([B, L, ...], as the case's
// input_ids) or packed ([T, ...], the real tokens one sequence after another): the shape says which. They become
// the ForwardOutput a backend would have returned.
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import type { ModernBertConfig } from '../reference/config.ts';
import { readSafetensors } from '../reference/files.ts';
import type { ForwardOutput } from '../reference/modernbert.ts';
import { halfToNumber, toFloat64 } from '../reference/safetensors.ts';
import { type PackedBatch, paddedRowOfToken } from '../reference/unpad.ts';
import { ParityInputError } from './parity-check.ts';

export interface OutputTensor {
  shape: number[];
  data: Float64Array;
  /** the file it came from, for errors */
  file: string;
}

export const OUTPUT_NAMES = ['last_hidden_state', 'hidden_states', 'mlm_logits', 'cls_logits', 'mean_logits', 'token_logits', 'start_logits', 'end_logits'];

/** Reads every `[name=]FILE` and renames by `map` (their name -> golden name); unknown names are an error. */
export function readOutputs(specs: readonly string[], map: Record<string, string> = {}): Map<string, OutputTensor> {
  const out = new Map<string, OutputTensor>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const [name, file] = eq > 0 && !spec.slice(0, eq).includes('/') ? [spec.slice(0, eq), spec.slice(eq + 1)] : [null, spec];
    for (const [their, tensor] of readFile(file, name)) {
      const ours = map[their] ?? their;
      if (!OUTPUT_NAMES.includes(ours)) throw new ParityInputError(`${file}: tensor "${their}" is not an output parity compares (${OUTPUT_NAMES.join(', ')}); rename it with --map ${their}=<name>`);
      if (out.has(ours)) throw new ParityInputError(`${file}: output "${ours}" is given twice`);
      out.set(ours, tensor);
    }
  }
  if (out.size === 0) throw new ParityInputError(`${specs.join(', ')}: no outputs`);
  return out;
}

function readFile(file: string, name: string | null): [string, OutputTensor][] {
  const ext = extname(file).toLowerCase();
  if (name !== null && ext !== '.npy') throw new ParityInputError(`${name}=${file}: NAME= names the one array of a .npy file; the tensors of a ${ext || 'file without extension'} carry their own names (rename them with --map)`);
  if (ext === '.safetensors') {
    return [...readSafetensors(file).tensors].map(([n, t]) => [n, { shape: t.shape, data: toFloat64(t, `${file}: tensor "${n}"`) as Float64Array, file }]);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new ParityInputError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (ext === '.npy') return [[name ?? basename(file, ext), { ...parseNpy(bytes, file), file }]];
  if (ext === '.npz') return parseNpz(bytes, file).map(([n, array]) => [n, { ...array, file }]);
  if (ext === '.json') {
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new ParityInputError(`${file}: not valid JSON (${(e as Error).message})`);
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ParityInputError(`${file}: expected an object {output name: nested arrays of numbers}`);
    return Object.entries(json).map(([n, v]) => [n, { ...nested(v, `${file}: field "${n}"`), file }]);
  }
  throw new ParityInputError(`${file}: unknown format "${ext}" (safetensors, .npy, .npz or .json)`);
}

/** A little-endian float16/float32/float64 C-order .npy array (NumPy format 1.0 to 3.0). */
export function parseNpy(bytes: Uint8Array, file: string): { shape: number[]; data: Float64Array } {
  const magic = '\x93NUMPY';
  if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(0, 6)) !== magic) throw new ParityInputError(`${file}: not a .npy file (no \\x93NUMPY magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [headerLength, start] = major === 1 ? [view.getUint16(8, true), 10] : [view.getUint32(8, true), 12];
  if (start + headerLength > bytes.length) throw new ParityInputError(`${file}: the header runs past the end of the file`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  const width = descr === '<f2' ? 2 : descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (width === 0) throw new ParityInputError(`${file}: dtype ${JSON.stringify(descr)} is not supported (little-endian float16 '<f2', float32 '<f4' or float64 '<f8')`);
  if (fortran !== 'False') throw new ParityInputError(`${file}: Fortran-order arrays are not supported (save a C-order array)`);
  if (shapeText === undefined) throw new ParityInputError(`${file}: the header has no shape`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLength;
  if (bytes.length - dataStart !== count * width) throw new ParityInputError(`${file}: holds ${bytes.length - dataStart} bytes of data, but ${descr} x [${shape.join(', ')}] needs ${count * width}`);
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = dataStart + width * i;
    data[i] = width === 2 ? halfToNumber(view.getUint16(at, true)) : width === 4 ? view.getFloat32(at, true) : view.getFloat64(at, true);
  }
  return { shape, data };
}

const ZIP_END = 0x06054b50;
const ZIP_CENTRAL = 0x02014b50;
const ZIP_LOCAL = 0x04034b50;
const ZIP_STORED = 0;
const ZIP_DEFLATED = 8;

/**
 * The arrays of a .npz: a zip archive whose members are .npy files, `<name>.npy` -> `<name>`. numpy.savez stores
 * them, numpy.savez_compressed deflates them. Sizes and offsets come from the central directory: numpy writes
 * every local header with zip64 placeholders (0xFFFFFFFF) there, and the central directory's zip64 extra field
 * is read when a value needs it. A zip64 end record (over 65535 members, or a directory past 4 GiB) is rejected.
 */
export function parseNpz(bytes: Uint8Array, file: string): [string, { shape: number[]; data: Float64Array }][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  // The end record sits in the last 22 bytes plus an archive comment of at most 65535.
  let end = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff) && end < 0; at--) if (u32(at) === ZIP_END) end = at;
  if (end < 0) throw new ParityInputError(`${file}: not a .npz file (no zip end-of-central-directory record)`);
  const count = u16(end + 10);
  const directorySize = u32(end + 12);
  const directoryStart = u32(end + 16);
  if (count === 0xffff || directorySize === 0xffffffff || directoryStart === 0xffffffff) throw new ParityInputError(`${file}: a zip64 archive (over 65535 members or past 4 GiB) is not supported; save fewer, smaller arrays per .npz`);
  if (directoryStart + directorySize > end) throw new ParityInputError(`${file}: the zip central directory runs past the end record (a truncated or damaged file)`);

  const arrays: [string, { shape: number[]; data: Float64Array }][] = [];
  let at = directoryStart;
  for (let i = 0; i < count; i++) {
    if (at + 46 > end || u32(at) !== ZIP_CENTRAL) throw new ParityInputError(`${file}: zip central directory entry ${i} is damaged`);
    const flags = u16(at + 8);
    const method = u16(at + 10);
    const crc = u32(at + 16);
    let packedSize = u32(at + 20);
    let size = u32(at + 24);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    let localStart = u32(at + 42);
    const member = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
    const where = `${file}: member "${member}"`;
    // zip64 extra field (id 1): 8-byte values for exactly those of size, packed size, offset that read 0xFFFFFFFF
    for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength; x += 4 + u16(x + 2)) {
      if (u16(x) !== 1) continue;
      let field = x + 4;
      const wide = () => {
        const v = Number(view.getBigUint64(field, true));
        field += 8;
        return v;
      };
      if (size === 0xffffffff) size = wide();
      if (packedSize === 0xffffffff) packedSize = wide();
      if (localStart === 0xffffffff) localStart = wide();
    }
    at += 46 + nameLength + extraLength + commentLength;

    if (flags & 1) throw new ParityInputError(`${where}: encrypted members are not supported`);
    if (!member.endsWith('.npy')) throw new ParityInputError(`${where}: not a .npy array (a .npz holds <name>.npy members, as numpy.savez writes them)`);
    if (method !== ZIP_STORED && method !== ZIP_DEFLATED) throw new ParityInputError(`${where}: compression method ${method} is not supported (stored, as numpy.savez writes, or deflated, as numpy.savez_compressed writes)`);
    if (localStart + 30 > bytes.length || u32(localStart) !== ZIP_LOCAL) throw new ParityInputError(`${where}: no local header at offset ${localStart} (a damaged file)`);
    const dataStart = localStart + 30 + u16(localStart + 26) + u16(localStart + 28);
    if (dataStart + packedSize > bytes.length) throw new ParityInputError(`${where}: its data runs past the end of the file (a truncated file)`);
    let npy = bytes.subarray(dataStart, dataStart + packedSize);
    if (method === ZIP_DEFLATED) {
      try {
        npy = inflateRawSync(npy);
      } catch (e) {
        throw new ParityInputError(`${where}: cannot inflate (${(e as Error).message})`);
      }
    }
    if (npy.length !== size || crc32(npy) !== crc) throw new ParityInputError(`${where}: the data does not match its size and CRC-32 in the zip directory (a damaged file)`);
    arrays.push([member.slice(0, -'.npy'.length), parseNpy(npy, where)]);
  }
  if (arrays.length === 0) throw new ParityInputError(`${file}: the .npz holds no arrays`);
  return arrays;
}

/** Nested arrays of numbers as a shape and flat data; ragged arrays and non-numbers are errors. */
function nested(v: unknown, where: string): { shape: number[]; data: Float64Array } {
  const shape: number[] = [];
  for (let x = v; Array.isArray(x); x = x[0]) shape.push(x.length);
  const flat = (v as unknown[]).flat(Infinity);
  if (flat.length !== shape.reduce((a, b) => a * b, 1) || !flat.every((x) => typeof x === 'number')) throw new ParityInputError(`${where}: expected nested arrays of numbers of one shape`);
  return { shape, data: Float64Array.from(flat as number[]) };
}

/**
 * The outputs as the ForwardOutput a backend returns for `batch` (packed), from padded [B, L, ...] or packed
 * [T, ...] tensors. A shape that is neither is an error naming the tensor and both shapes expected.
 */
export function asForwardOutput(outputs: Map<string, OutputTensor>, config: ModernBertConfig, batch: PackedBatch, L: number): ForwardOutput {
  const B = batch.batchSize;
  const T = batch.totalTokens;
  const rows = paddedRowOfToken(batch, L);
  /** [lead..., B, L, width] or [lead..., T, width] -> per lead index, [T * width] in packed order */
  const perToken = (name: string, width: number, lead: number[] = []): Float64Array[] => {
    const t = outputs.get(name)!;
    const tail = width === 1 ? [] : [width];
    const padded = [...lead, B, L, ...tail];
    const packed = [...lead, T, ...tail];
    const same = (a: number[]) => a.length === t.shape.length && a.every((d, i) => d === t.shape[i]);
    if (!same(padded) && !same(packed)) throw new ParityInputError(`${t.file}: output "${name}" has shape [${t.shape.join(', ')}]; expected [${padded.join(', ')}] (padded) or [${packed.join(', ')}] (packed)`);
    const n = lead.reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, k) => {
      if (same(packed)) return t.data.subarray(k * T * width, (k + 1) * T * width);
      const out = new Float64Array(T * width);
      for (let tok = 0; tok < T; tok++) out.set(t.data.subarray((k * B * L + rows[tok]) * width, (k * B * L + rows[tok] + 1) * width), tok * width);
      return out;
    });
  };
  const perSequence = (name: string): Float64Array => {
    const t = outputs.get(name)!;
    if (t.shape.length !== 2 || t.shape[0] !== B || t.shape[1] !== config.numLabels) throw new ParityInputError(`${t.file}: output "${name}" has shape [${t.shape.join(', ')}]; expected [${B}, ${config.numLabels}]`);
    return t.data;
  };
  const C = config.hiddenSize;
  const out: ForwardOutput = { batch, lastHiddenState: outputs.has('last_hidden_state') ? perToken('last_hidden_state', C)[0] : new Float64Array(0) };
  if (outputs.has('hidden_states')) out.hiddenStates = perToken('hidden_states', C, [config.numHiddenLayers + 1]);
  if (outputs.has('mlm_logits')) out.mlmLogits = perToken('mlm_logits', config.vocabSize)[0];
  for (const pooling of ['cls', 'mean'] as const) if (outputs.has(`${pooling}_logits`)) (out.classifierLogits ??= {})[pooling] = perSequence(`${pooling}_logits`);
  if (outputs.has('token_logits')) out.tokenLogits = perToken('token_logits', config.numLabels)[0];
  else if (outputs.has('start_logits') || outputs.has('end_logits')) {
    // question answering's two outputs are the two columns of the token logits
    const start = outputs.has('start_logits') ? perToken('start_logits', 1)[0] : new Float64Array(T);
    const end = outputs.has('end_logits') ? perToken('end_logits', 1)[0] : new Float64Array(T);
    out.tokenLogits = Float64Array.from({ length: 2 * T }, (_, i) => (i % 2 ? end : start)[i >> 1]);
  }
  return out;
}
