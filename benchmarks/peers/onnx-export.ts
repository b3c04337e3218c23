// Writes the ONNX graph of a checkpoint folder (onnx-graph.ts) as a transformers.js model folder: config.json and
// onnx/model.onnx (fp32) or onnx/model_fp16.onnx (fp16), the peer ONNX Runtime runs in the benchmarks.
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadCheckpoint } from '../../reference/files.ts';
import { fp32 } from '../../reference/ops.ts';
import { ONNX_FILES, type OnnxDtype, onnxModel } from './onnx-graph.ts';

/** Writes outDir/config.json (copied) and outDir/onnx/<ONNX_FILES[dtype]> for each dtype, each whole or not at all. */
export function writeOnnxExport(checkpointDir: string, outDir: string, dtypes: readonly OnnxDtype[] = ['fp32']): void {
  const { config, weights } = loadCheckpoint(checkpointDir, fp32);
  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  for (const dtype of dtypes) writeAtomic(join(outDir, 'onnx', ONNX_FILES[dtype]), onnxModel(config, weights, dtype).chunks);
  const tmpConfig = join(outDir, '.config.json.tmp');
  copyFileSync(join(resolve(checkpointDir), 'config.json'), tmpConfig);
  renameSync(tmpConfig, join(outDir, 'config.json'));
}

function writeAtomic(file: string, chunks: readonly Uint8Array[]): void {
  const tmp = mkdtempSync(join(dirname(file), `.${basename(file)}.tmp-`));
  try {
    const part = join(tmp, basename(file));
    const fd = openSync(part, 'w');
    try {
      for (const c of chunks) writeSync(fd, c);
    } finally {
      closeSync(fd);
    }
    renameSync(part, file);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
