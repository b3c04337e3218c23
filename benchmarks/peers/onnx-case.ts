// Runs a golden case through ONNX Runtime (onnxruntime-node, CPU) on an ONNX folder (onnx-export.ts's, or any
// with the same inputs and output) and writes last_hidden_state, padded like the case's input_ids, for
// `modernbert parity <case> --outputs FILE`:
//   node --import ./bin/register.js benchmarks/peers/onnx-case.ts --model ONNX_DIR --case CASE_DIR --write-outputs OUT.safetensors
// Its own process: onnxruntime-node carries its own Dawn, which must not meet the `webgpu` package's.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { readSafetensors, writeSafetensors } from '../../reference/files.ts';
import { toInt32 } from '../../reference/safetensors.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, case: { type: 'string' }, 'write-outputs': { type: 'string' } } });
if (!values.model || !values.case || !values['write-outputs']) {
  process.stderr.write('onnx-case: give --model ONNX_DIR --case CASE_DIR --write-outputs OUT.safetensors\n');
  process.exit(2);
}
const io = readSafetensors(join(values.case, 'io.safetensors')).tensors;
const ids = io.get('input_ids')!;
const [B, L] = ids.shape;
const mask = io.get('attention_mask');
const int64 = (values: Int32Array) => new Tensor('int64', BigInt64Array.from(values, BigInt), [B, L]);
const session = await InferenceSession.create(join(values.model, 'onnx', 'model.onnx'));
const out = await session.run({ input_ids: int64(toInt32(ids)), attention_mask: int64(mask ? toInt32(mask) : new Int32Array(B * L).fill(1)) });
const last = out.last_hidden_state;
writeSafetensors(values['write-outputs'], { last_hidden_state: { dtype: 'F32', shape: last.dims.map(Number), data: last.data as Float32Array } });
