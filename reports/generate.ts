// Regenerates the leaderboard from every results.csv and *.results.json (a submission) under a folder:
//   npm run report -- [--root reports] [--out reports]
// writes <out>/leaderboard.md and <out>/index.html. Every row is checked against the results schema; a row or
// file that fails is reported on stderr (file, row, field) and not merged, and the rest still is.
// Exit 0 when everything merged (also with no results yet), 1 when something was rejected, 2 on bad arguments.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeLeaderboard } from './leaderboard.ts';

const USAGE = 'usage: npm run report -- [--root reports] [--out reports]';

/** The command line: returns the exit code; messages go to the given streams. */
export function main(argv: string[], stdout: (line: string) => void = console.log, stderr: (line: string) => void = console.error): number {
  let values: { root: string; out?: string; help: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: { root: { type: 'string', default: 'reports' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: false,
    }).values as typeof values;
  } catch (e) {
    stderr(`generate: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    stdout(USAGE);
    return 0;
  }
  const root = values.root;
  const out = values.out ?? root;
  // A missing root is more likely a typo than "no results yet".
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    stderr(`generate: --root ${root}: no such folder\n${USAGE}`);
    return 2;
  }
  try {
    const { files, resultFiles, devices, rejected } = writeLeaderboard(root, out);
    const rows = devices.reduce((n, d) => n + d.rows.length, 0);
    const submissions = resultFiles.filter((f) => f.endsWith('.json')).length;
    stdout(`${resultFiles.length - submissions} results.csv file(s), ${rows} row(s), ${devices.length} device(s)${submissions ? `; ${submissions} submission file(s)` : ''}`);
    for (const f of files) stdout(`wrote ${f}`);
    for (const r of rejected) stderr(`generate: not merged: ${r.where}: ${r.problems.join('; ')}`);
    return rejected.length ? 1 : 0;
  } catch (e) {
    stderr(`generate: ${(e as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
