// A checkpoint's ModernBertModel as an ONNX graph, built in TypeScript (no Python, no torch.onnx): the
// peer ONNX Runtime runs in the benchmarks (transformers.js and onnxruntime-node) on any machine.
//
// The graph is HF's eager path in standard opset-17 operators, over a padded batch as transformers.js feeds
// it: Gather + LayerNormalization embeddings; per layer MatMul QKV, rotate_half RoPE from cos/sin tables
// (float32, as HF builds them), MatMul/Softmax attention where a masked key's score is replaced by the type's lowest
// value (padding keys, and keys outside the window on local layers), MatMul Wo, GLU MLP with the activation from Erf/Tanh/Sigmoid/Relu; final LayerNormalization.
// Inputs input_ids, attention_mask (int64 [batch_size, sequence_length]); output last_hidden_state (float32).
// fp16 (onnx/model_fp16.onnx, the file transformers.js loads for dtype 'fp16'): the same graph with f16 weights,
// tables and activations throughout, LayerNormalization and Softmax on f16 tensors, as a float16 conversion
// with the inputs' and outputs' types kept gives it: only the output is cast back to float32.
// The file is protobuf (onnx.proto's ModelProto), encoded here field by field. No Node modules: the browser bench
// page builds the graph of the weights it runs too; onnx-export.ts writes it to a folder.
import { type ModernBertConfig, isGlobalLayer, slidingWindow } from '../../reference/config.ts';
import type { LinearWeights, ModernBertWeights, NormWeights } from '../../reference/checkpoint.ts';
import { fp32, ropeTables } from '../../reference/ops.ts';
import { toFloat16Bits } from '../../reference/safetensors.ts';

export const ONNX_EXPORT_NOTE = 'ONNX graph written by modernbert-ts (benchmarks/peers/onnx-graph.ts: opset 17, standard operators, no Python)';

export type OnnxDtype = 'fp32' | 'fp16';
/** The file of each dtype under onnx/, named as transformers.js looks for them. */
export const ONNX_FILES: Record<OnnxDtype, string> = { fp32: 'model.onnx', fp16: 'model_fp16.onnx' };

/**
 * A batch as the graph takes it, as a transformers.js tokenizer call with padding gives it: right-padded int64
 * ids and attention mask, both [B, L] row-major. The pads are computed; throughput counts the real tokens.
 */
export function paddedInputs(sequences: readonly ArrayLike<number>[], padId: number) {
  const longest = Math.max(...sequences.map((s) => s.length));
  const ids = new BigInt64Array(sequences.length * longest).fill(BigInt(padId));
  const mask = new BigInt64Array(sequences.length * longest);
  sequences.forEach((s, b) => {
    for (let i = 0; i < s.length; i++) {
      ids[b * longest + i] = BigInt(s[i]);
      mask[b * longest + i] = 1n;
    }
  });
  return { ids, mask, dims: [sequences.length, longest], longest, realTokens: sequences.reduce((n, s) => n + s.length, 0), computedTokens: ids.length };
}

/** An ONNX Runtime error's first line; its complaint that f16 kernels need the adapter's shader-f16 as what it means. */
export function onnxRuntimeFailure(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const first = message.split('\n').find((l) => l.trim())?.trim() ?? 'unknown error';
  return /requires f16 but the device does not support it/.test(message) ? `the WebGPU adapter has no shader-f16 (ONNX Runtime: ${first})` : first;
}

/** The ModelProto of a checkpoint in `dtype`, as chunks (500 MB of weights are never copied into one buffer). */
export function onnxModel(config: ModernBertConfig, weights: ModernBertWeights, dtype: OnnxDtype): { chunks: Uint8Array[]; length: number } {
  return modelProto(modernBertGraph(config, weights, dtype));
}

// ---- protobuf: a message is a list of chunks, so 500 MB of weights are never copied into one buffer ----

class Message {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }
  private tag(field: number, wire: number): void {
    this.push(varint(BigInt((field << 3) | wire)));
  }
  /** int32/int64/enum/bool: a varint (negative values as 10-byte two's complement, as protobuf does) */
  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.push(varint(BigInt.asUintN(64, BigInt(value))));
    return this;
  }
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.push(varint(BigInt(value.length)));
    this.push(value);
    return this;
  }
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }
  message(field: number, m: Message): this {
    this.tag(field, 2);
    this.push(varint(BigInt(m.length)));
    for (const c of m.chunks) this.push(c);
    return this;
  }
}

function varint(v: bigint): Uint8Array {
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v) byte |= 0x80;
    out.push(byte);
  } while (v);
  return Uint8Array.from(out);
}

// ---- onnx.proto messages (field numbers from onnx.proto) ----

const FLOAT = 1;
const INT64 = 7;
const FLOAT16 = 10;
type Attr = number | number[] | { float: number };

function tensorProto(name: string, dims: readonly number[], type: number, raw: Uint8Array): Message {
  const t = new Message();
  for (const d of dims) t.int(1, d);
  return t.int(2, type).string(8, name).bytes(9, raw);
}

function attribute(name: string, value: Attr): Message {
  const a = new Message().string(1, name);
  if (typeof value === 'number') return a.int(3, value).int(20, 2); // INT
  if (Array.isArray(value)) {
    for (const v of value) a.int(8, v);
    return a.int(20, 7); // INTS
  }
  return a.float(2, value.float).int(20, 1); // FLOAT
}

function valueInfo(name: string, type: number, dims: readonly (number | string)[]): Message {
  const shape = new Message();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  const tensorType = new Message().int(1, type).message(2, shape);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}

/** The graph under construction: nodes and initializers, names made unique by a counter. */
class Graph {
  readonly nodes: Message[] = [];
  readonly initializers: Message[] = [];
  readonly inputs: Message[] = [];
  readonly outputs: Message[] = [];
  private count = 0;

  /** floatType: the element type of every float initializer and activation (FLOAT or FLOAT16). */
  constructor(readonly floatType: number) {}

  private name(hint: string): string {
    return `${hint}_${this.count++}`;
  }
  /** A float initializer of the graph's float type. */
  floats(hint: string, dims: number[], data: ArrayLike<number>): string {
    const name = this.name(hint);
    const values = this.floatType === FLOAT16 ? toFloat16Bits(data) : Float32Array.from(data);
    this.initializers.push(tensorProto(name, dims, this.floatType, new Uint8Array(values.buffer)));
    return name;
  }
  ints(hint: string, dims: number[], data: readonly number[]): string {
    const name = this.name(hint);
    const values = BigInt64Array.from(data.map(BigInt));
    this.initializers.push(tensorProto(name, dims, INT64, new Uint8Array(values.buffer)));
    return name;
  }
  scalar(value: number): string {
    return this.floats('c', [], [value]);
  }
  op(type: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, outputCount = 1): string[] {
    const outputs = Array.from({ length: outputCount }, () => this.name(type.toLowerCase()));
    const node = new Message();
    for (const i of inputs) node.string(1, i);
    for (const o of outputs) node.string(2, o);
    node.string(3, this.name(`n_${type}`)).string(4, type);
    for (const [k, v] of Object.entries(attrs)) node.message(5, attribute(k, v));
    this.nodes.push(node);
    return outputs;
  }
  op1(type: string, inputs: readonly string[], attrs: Record<string, Attr> = {}): string {
    return this.op(type, inputs, attrs)[0];
  }
}

function modelProto(g: Graph): Message {
  const graph = new Message();
  for (const n of g.nodes) graph.message(1, n);
  graph.string(2, 'modernbert');
  for (const t of g.initializers) graph.message(5, t);
  for (const i of g.inputs) graph.message(11, i);
  for (const o of g.outputs) graph.message(12, o);
  return new Message()
    .int(1, 8) // ir_version 8 (ONNX 1.13, opset 17)
    .string(2, 'modernbert-ts')
    .message(7, graph)
    .message(8, new Message().string(1, '').int(2, 17));
}

// ---- ModernBERT ----

/** The score of a masked key, far below every real score so exp() of it is 0: the lowest finite value of the type.
 *  It replaces the score (Where) rather than adding to it, which could overflow to -inf in f16 and give a row of
 *  padding queries, where every key is masked, NaN instead of a finite average. */
const MASKED: Record<OnnxDtype, number> = { fp32: -3.4028234663852886e38, fp16: -65504 };

function modernBertGraph(config: ModernBertConfig, weights: ModernBertWeights, dtype: OnnxDtype): Graph {
  const g = new Graph(dtype === 'fp16' ? FLOAT16 : FLOAT);
  const { hiddenSize: C, numAttentionHeads: H, headDim: D, intermediateSize: I } = config;
  g.inputs.push(valueInfo('input_ids', INT64, ['batch_size', 'sequence_length']), valueInfo('attention_mask', INT64, ['batch_size', 'sequence_length']));
  g.outputs.push(valueInfo('last_hidden_state', FLOAT, ['batch_size', 'sequence_length', C]));

  const linear = (x: string, w: LinearWeights, hint: string): string => {
    // MatMul wants W^T [in, out]; the checkpoint stores [out, in].
    const t = new Float32Array(w.inFeatures * w.outFeatures);
    for (let n = 0; n < w.outFeatures; n++) for (let k = 0; k < w.inFeatures; k++) t[k * w.outFeatures + n] = w.weight[n * w.inFeatures + k];
    const y = g.op1('MatMul', [x, g.floats(hint, [w.inFeatures, w.outFeatures], t)]);
    return w.bias ? g.op1('Add', [y, g.floats(`${hint}_bias`, [w.outFeatures], w.bias)]) : y;
  };
  const norm = (x: string, w: NormWeights, hint: string): string =>
    g.op1('LayerNormalization', [x, g.floats(hint, [C], w.weight), ...(w.bias ? [g.floats(`${hint}_bias`, [C], w.bias)] : [])], { axis: -1, epsilon: { float: config.normEps } });

  // Sequence length, positions and the masks, shared by every layer.
  const shape = g.op1('Shape', ['input_ids']);
  const length = g.op1('Gather', [shape, g.ints('one', [], [1])], { axis: 0 }); // scalar L
  const length1 = g.op1('Unsqueeze', [length, g.ints('axes', [1], [0])]); // [L]
  const positions = g.op1('Range', [g.ints('zero', [], [0]), length, g.ints('one', [], [1])]);
  // Where a key is masked (true): padding keys [B, 1, 1, L] on global layers, and also keys outside the window [B, 1, L, L] on local ones.
  const paddingKey = g.op1('Unsqueeze', [g.op1('Equal', ['attention_mask', g.ints('zero', [], [0])]), g.ints('axes', [2], [1, 2])]);
  const masked = g.scalar(MASKED[dtype]);
  const distance = g.op1('Abs', [g.op1('Sub', [g.op1('Unsqueeze', [positions, g.ints('axes', [1], [1])]), g.op1('Unsqueeze', [positions, g.ints('axes', [1], [0])])])]);
  const outsideWindow = g.op1('Greater', [distance, g.ints('window', [], [slidingWindow(config)])]); // [L, L]
  const localMask = g.op1('Or', [paddingKey, outsideWindow]);

  // cos/sin [L, D] per theta: the tables' halves duplicated (cat(freqs, freqs)), sliced to the length; tables
  // hold max_position_embeddings positions, so longer sequences are an error in ONNX Runtime.
  const rope = (theta: number) => {
    const P = config.maxPositionEmbeddings;
    const t = ropeTables(fp32, theta, D, P);
    const full = (table: ArrayLike<number>) => Float32Array.from({ length: P * D }, (_, i) => table[Math.floor(i / D) * (D / 2) + (i % D) % (D / 2)]);
    const slice = (name: string, table: ArrayLike<number>) => g.op1('Slice', [g.floats(name, [P, D], full(table)), g.ints('start', [1], [0]), length1, g.ints('axes', [1], [0])]);
    return { cos: slice('rope_cos', t.cos), sin: slice('rope_sin', t.sin) };
  };
  const ropes = { global: rope(config.globalRopeTheta), local: rope(config.localRopeTheta) };
  const halves = g.ints('halves', [2], [D / 2, D / 2]);
  const rotate = (x: string, r: { cos: string; sin: string }) => {
    const [x1, x2] = g.op('Split', [x, halves], { axis: -1 }, 2);
    const rotated = g.op1('Concat', [g.op1('Neg', [x2]), x1], { axis: -1 });
    return g.op1('Add', [g.op1('Mul', [x, r.cos]), g.op1('Mul', [rotated, r.sin])]);
  };
  const qkvShape = g.ints('qkv_shape', [5], [0, 0, 3, H, D]);
  const contextShape = g.ints('context_shape', [3], [0, 0, C]);
  const scale = g.scalar(1 / Math.sqrt(D));
  const activation = (x: string): string => {
    switch (config.hiddenActivation) {
      case 'gelu': // x/2 (1 + erf(x / sqrt 2))
        return g.op1('Mul', [g.op1('Mul', [x, g.scalar(0.5)]), g.op1('Add', [g.scalar(1), g.op1('Erf', [g.op1('Mul', [x, g.scalar(Math.SQRT1_2)])])])]);
      case 'gelu_tanh': {
        const cube = g.op1('Mul', [g.op1('Mul', [x, x]), x]);
        const inner = g.op1('Mul', [g.op1('Add', [x, g.op1('Mul', [cube, g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
        return g.op1('Mul', [g.op1('Mul', [x, g.scalar(0.5)]), g.op1('Add', [g.scalar(1), g.op1('Tanh', [inner])])]);
      }
      case 'silu':
        return g.op1('Mul', [x, g.op1('Sigmoid', [x])]);
      case 'relu':
        return g.op1('Relu', [x]);
    }
  };
  const splitI = g.ints('glu_halves', [2], [I, I]);

  let hidden = norm(g.op1('Gather', [g.floats('tok_embeddings', [config.vocabSize, C], weights.tokEmbeddings), 'input_ids'], { axis: 0 }), weights.embeddingNorm, 'embeddings_norm');
  weights.layers.forEach((layer, l) => {
    const global = isGlobalLayer(config, l);
    const r = global ? ropes.global : ropes.local;
    // attention: [B, L, 3C] -> [3, B, H, L, D]
    const x = layer.attnNorm ? norm(hidden, layer.attnNorm, `l${l}_attn_norm`) : hidden;
    const qkv = g.op1('Transpose', [g.op1('Reshape', [linear(x, layer.wqkv, `l${l}_wqkv`), qkvShape])], { perm: [2, 0, 3, 1, 4] });
    const [q, k, v] = [0, 1, 2].map((s) => g.op1('Gather', [qkv, g.ints('s', [], [s])], { axis: 0 }));
    const kT = g.op1('Transpose', [rotate(k, r)], { perm: [0, 1, 3, 2] });
    const scores = g.op1('Where', [global ? paddingKey : localMask, masked, g.op1('Mul', [g.op1('MatMul', [rotate(q, r), kT]), scale])]);
    const context = g.op1('MatMul', [g.op1('Softmax', [scores], { axis: -1 }), v]); // [B, H, L, D]
    const merged = g.op1('Reshape', [g.op1('Transpose', [context], { perm: [0, 2, 1, 3] }), contextShape]);
    hidden = g.op1('Add', [hidden, linear(merged, layer.wo, `l${l}_wo`)]);
    // GLU MLP: act(first half) * second half
    const [input, gate] = g.op('Split', [linear(norm(hidden, layer.mlpNorm, `l${l}_mlp_norm`), layer.wi, `l${l}_wi`), splitI], { axis: -1 }, 2);
    hidden = g.op1('Add', [hidden, linear(g.op1('Mul', [activation(input), gate]), layer.mlpWo, `l${l}_mlp_wo`)]);
  });
  const normed = norm(hidden, weights.finalNorm, 'final_norm');
  const last = dtype === 'fp16' ? g.op1('Cast', [normed], { to: FLOAT }) : normed;
  g.nodes.push(new Message().string(1, last).string(2, 'last_hidden_state').string(3, 'output').string(4, 'Identity'));
  return g;
}
