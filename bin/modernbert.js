#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on the fly so `npx modernbert` works in a checkout after `npm ci`.
import './register.js';

const { main, exitOnSignals } = await import('../cli/modernbert.ts');
exitOnSignals();
process.exitCode = await main(process.argv.slice(2));
