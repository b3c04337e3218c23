#!/usr/bin/env node
// The CLI. In a checkout it is the TypeScript sources, which tsx compiles on the fly (`npx modernbert` after
// `npm ci`); in the installed package, where there are no sources, the build in dist/ (tools/package/build.ts).
import { existsSync } from 'node:fs';

const sources = new URL('../cli/modernbert.ts', import.meta.url);
let cli;
if (existsSync(sources)) {
  await import('./register.js');
  cli = await import(sources.href);
} else {
  cli = await import('../dist/cli.js');
}
cli.exitOnSignals();
process.exitCode = await cli.main(process.argv.slice(2));
