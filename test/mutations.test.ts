// The mutation catalog of `npm run test:mutations` (test/mutations/catalog.ts) still applies to the tree: each edit
// finds its text exactly once, and each mutation names test files that exist. (Running the mutations is
// `npm run test:mutations`, a few minutes; .ci/run runs it after the suite.)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MUTATIONS, MutationError, mutate } from './mutations/catalog.ts';

const ROOT = join(import.meta.dirname, '..');

describe('mutation catalog', () => {
  it('every mutation changes its file, once, and names tests in files that exist', () => {
    expect(new Set(MUTATIONS.map((m) => m.id)).size).toBe(MUTATIONS.length);
    for (const m of MUTATIONS) {
      const source = readFileSync(join(ROOT, m.file), 'utf8');
      expect(mutate(source, m), m.id).not.toBe(source);
      expect(m.catches.length, m.id).toBeGreaterThan(0);
      for (const c of m.catches) expect(existsSync(join(ROOT, c.file)), `${m.id}: ${c.file}`).toBe(true);
    }
  });

  it('refuses an edit whose text is not in the file exactly once, naming the mutation and the file', () => {
    const m = { ...MUTATIONS.find((x) => 'find' in x.edit)!, edit: { find: 'x', replace: 'y' } };
    expect(mutate('a x b', m)).toBe('a y b');
    expect(() => mutate('a b', m)).toThrow(new MutationError(`mutation ${m.id}: ${m.file} holds "x" 0 times, expected once`));
    expect(() => mutate('x x', m)).toThrow(/holds "x" 2 times, expected once/);
  });

  it('npm run test:mutations refuses an unknown mutation id (exit 2), naming it', () => {
    const r = spawnSync(process.execPath, ['--import', './bin/register.js', 'test/mutations/run.ts', '--only', 'no-such-bug'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--only: unknown mutation "no-such-bug" \(known: embed-drops-last, /);
  });
});
