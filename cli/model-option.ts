// `--model DIR | org/name [--revision REV]`: a checkpoint folder, or a Hugging Face model through the hub cache
// (tasks/hub.ts), its downloads shown on stderr: a progress bar on a terminal, else one line per file.
import { Presets, SingleBar } from 'cli-progress';
import { type DownloadProgress, resolveModelFolder } from '../tasks/hub.ts';

/** The options of the commands that take a model. */
export const MODEL_OPTIONS = { model: { type: 'string' }, revision: { type: 'string' } } as const;

/** The local folder of --model, downloading what the cache lacks. */
export async function modelFolder(model: string, revision: string | undefined): Promise<string> {
  const progress = downloadProgress();
  try {
    return await resolveModelFolder(model, { revision, onDownload: progress.onDownload });
  } finally {
    progress.stop();
  }
}

/** An onDownload callback that shows each file's download on stderr, and a stop() for when resolving fails. */
export function downloadProgress(): { onDownload: (p: DownloadProgress) => void; stop: () => void } {
  let bar: SingleBar | null = null;
  const onDownload = ({ repo, revision, file, loaded, total }: DownloadProgress) => {
    if (loaded === 0) {
      bar?.stop();
      bar = null;
      if (process.stderr.isTTY) {
        bar = new SingleBar({ format: `${repo}@${revision} ${file} [{bar}] {percentage}% of ${size(total)}`, hideCursor: true }, Presets.shades_classic);
        bar.start(total, 0);
      } else {
        process.stderr.write(`modernbert: downloading ${repo}@${revision} ${file} (${size(total)})\n`);
      }
    }
    bar?.update(loaded);
    if (loaded === total) {
      bar?.stop();
      bar = null;
    }
  };
  return { onDownload, stop: () => bar?.stop() };
}

function size(bytes: number): string {
  return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
