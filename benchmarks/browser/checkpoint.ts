// A checkpoint folder the visitor chose (<input type="file" webkitdirectory>): its config.json and
// model.safetensors, checked as `modernbert` checks them in Node, with errors that name the file or tensor.
import type { Checkpoint } from '../../reference/checkpoint.ts';
import { weightsFromTensors } from '../../reference/checkpoint.ts';
import { parseConfig } from '../../reference/config.ts';
import { fp32 } from '../../reference/ops.ts';
import { parseSafetensors } from '../../reference/safetensors.ts';

const pathOf = (file: File) => file.webkitRelativePath || file.name;

/** The folder's name (the config column of its rows) and its checkpoint, in fp32 for the engine to upload. */
export async function readCheckpointFolder(files: readonly File[]): Promise<{ name: string; checkpoint: Checkpoint }> {
  const name = pathOf(files[0]).split('/')[0];
  // The folder's own file, not one in a subfolder: the shallowest of that name.
  const find = (fileName: string) => {
    const file = files.filter((f) => f.name === fileName).sort((a, b) => pathOf(a).split('/').length - pathOf(b).split('/').length)[0];
    if (!file) throw new Error(`the folder "${name}" has no ${fileName} (it has: ${files.map(pathOf).slice(0, 12).join(', ')}${files.length > 12 ? ', ...' : ''})`);
    return file;
  };
  const configFile = find('config.json');
  const weightsFile = find('model.safetensors');
  let json: unknown;
  try {
    json = JSON.parse(await configFile.text());
  } catch (e) {
    throw new Error(`${pathOf(configFile)}: not valid JSON (${(e as Error).message})`);
  }
  const config = parseConfig(json, pathOf(configFile));
  const { tensors } = parseSafetensors(new Uint8Array(await weightsFile.arrayBuffer()), pathOf(weightsFile));
  return { name, checkpoint: { config, weights: weightsFromTensors(config, tensors, fp32, pathOf(weightsFile)) } };
}
