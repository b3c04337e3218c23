// Node module hook: `import source from './kernel.wgsl'` gives the shader text as the default export.
// (Vitest does the same with a plugin in vitest.config.ts, and the browser bundle with esbuild's text loader.)
import { readFile } from 'node:fs/promises';

export async function load(url, context, nextLoad) {
  if (url.endsWith('.wgsl')) {
    const text = await readFile(new URL(url), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
