// Runs a golden case through ONNX Runtime (onnxruntime-node) on an ONNX folder (onnx-export.ts's, or any with the
// same inputs and output) and writes last_hidden_state, padded like the case's input_ids, for
// `modernbert parity <case> --outputs FILE [--dtype f16]`:
//   node --import ./bin/register.js benchmarks/peers/onnx-case.ts --model ONNX_DIR --case CASE_DIR --write-outputs OUT.safetensors
//        [--provider cpu|webgpu] [--dtype fp32|fp16]
// --provider webgpu is ONNX Runtime's WebGPU execution provider, with the Vulkan set-up our engine makes (SwiftShader
// where there is no GPU). --dtype fp16 runs onnx/model_fp16.onnx.
// Its own process: onnxruntime-node carries its own Dawn, which must not meet the `webgpu` package's.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { prepareVulkanForOtherDawn } from '../../optimized/webgpu/device.ts';
import { readSafetensors, writeSafetensors } from '../../reference/files.ts';
import { toInt32 } from '../../reference/safetensors.ts';
import { ONNX_FILES, type OnnxDtype } from './onnx-graph.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, case: { type: 'string' }, 'write-outputs': { type: 'string' }, provider: { type: 'string', default: 'cpu' }, dtype: { type: 'string', default: 'fp32' } } });
const fail = (message: string): never => {
  process.stderr.write(`onnx-case: ${message}\n`);
  process.exit(2);
};
if (!values.model || !values.case || !values['write-outputs']) fail('give --model ONNX_DIR --case CASE_DIR --write-outputs OUT.safetensors');
if (values.provider !== 'cpu' && values.provider !== 'webgpu') fail(`--provider must be cpu or webgpu, got "${values.provider}"`);
if (!Object.hasOwn(ONNX_FILES, values.dtype)) fail(`--dtype must be fp32 or fp16, got "${values.dtype}"`);
const io = readSafetensors(join(values.case!, 'io.safetensors')).tensors;
const ids = io.get('input_ids')!;
const [B, L] = ids.shape;
const mask = io.get('attention_mask');
const int64 = (values: Int32Array) => new Tensor('int64', BigInt64Array.from(values, BigInt), [B, L]);
if (values.provider === 'webgpu') await prepareVulkanForOtherDawn();
const session = await InferenceSession.create(join(values.model!, 'onnx', ONNX_FILES[values.dtype as OnnxDtype]), { executionProviders: [values.provider] });
const out = await session.run({ input_ids: int64(toInt32(ids)), attention_mask: int64(mask ? toInt32(mask) : new Int32Array(B * L).fill(1)) });
const last = out.last_hidden_state;
writeSafetensors(values['write-outputs']!, { last_hidden_state: { dtype: 'F32', shape: last.dims.map(Number), data: last.data as Float32Array } });
