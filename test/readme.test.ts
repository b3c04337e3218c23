// The README's TypeScript examples (```ts example blocks) run as written, and print what the ```text block
// after each one shows. They run from test/.readme/ (inside the package, so imports and top-level await
// work); their './' imports are rewritten to reach the project root from there.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const EXAMPLES = [...README.matchAll(/```ts example\n([\s\S]*?)```\n\n```text\n([\s\S]*?)```/g)].map((m) => ({ code: m[1], output: m[2] }));

describe('README examples', () => {
  it('has examples to run', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(1);
  });

  it.each(EXAMPLES.map((e, i) => [i, e] as const))('example %i runs and prints its documented output', (i, { code, output }) => {
    const dir = join(ROOT, 'test', '.readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `example-${i}.ts`);
    writeFileSync(file, code.replaceAll("from './", "from '../../"));
    try {
      const r = spawnSync(process.execPath, ['--import', './bin/register.js', file], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(output);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
