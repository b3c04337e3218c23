// Runs in headless Chromium: fetches a golden case from the test's server, runs it through the WebGPU engine
// on navigator.gpu with the same parity check and tolerances as `modernbert parity`, and leaves the result
// (or the error) on window for the test to read.
import { parseConfig } from '../../reference/config.ts';
import { parseSafetensors } from '../../reference/safetensors.ts';
import { checkParity } from '../../evals/parity-check.ts';
import { closeSharedDevice, sharedDevice } from '../../optimized/webgpu/device.ts';

interface PageResult {
  adapter?: { vendor: string; architecture: string; description: string; swiftshader: boolean };
  parity?: unknown;
  error?: string;
}

async function fetchBytes(path: string): Promise<Uint8Array> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function main(): Promise<PageResult> {
  const name = new URLSearchParams(location.search).get('case') ?? 'tiny';
  const base = `/case/${name}`;
  const config = parseConfig(JSON.parse(new TextDecoder().decode(await fetchBytes(`${base}/config.json`))), `${base}/config.json`);
  const checkpoint = parseSafetensors(await fetchBytes(`${base}/model.safetensors`), `${base}/model.safetensors`).tensors;
  const io = parseSafetensors(await fetchBytes(`${base}/io.safetensors`), `${base}/io.safetensors`).tensors;
  const ctx = await sharedDevice();
  try {
    const parity = await checkParity({ name, config, checkpoint, checkpointSource: `${base}/model.safetensors`, io, ioFile: `${base}/io.safetensors` }, 'webgpu', 'fp32');
    return { adapter: { ...ctx.adapter, swiftshader: ctx.swiftshader }, parity };
  } finally {
    await closeSharedDevice();
  }
}

const w = window as unknown as { modernbertResult?: PageResult };
main().then(
  (result) => (w.modernbertResult = result),
  (e: unknown) => (w.modernbertResult = { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
);
