// The documentation's TypeScript examples (```ts example blocks in README.md and docs/*.md) run as written, and
// print what the ```text block after each one shows. They run from test/.readme/ (inside the package, so imports
// and top-level await work); their './' imports (paths from the repository root) are rewritten to reach the root
// from there, and 'modernbert-ts' (the package's name) is the project's tasks/index.ts. A page that shows
// `npx modernbert example-checkpoint DIR` has that folder written first, as the reader would.
// Also: the README stays a short front door, and every relative link in these pages resolves.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const TEXT = new Map(PAGES.map((p) => [p, readFileSync(join(ROOT, p), 'utf8')]));
const EXAMPLES = PAGES.flatMap((page) =>
  [...TEXT.get(page)!.matchAll(/```ts example\n([\s\S]*?)```\n\n```text\n([\s\S]*?)```/g)].map((m, i) => ({ page, i, code: m[1], output: m[2] })),
);
// Each `npx modernbert example-checkpoint [--kind K] DIR` line, as its arguments.
const EXAMPLE_CHECKPOINTS = [...new Set(PAGES.flatMap((page) => [...TEXT.get(page)!.matchAll(/^npx modernbert example-checkpoint ((?:--kind \S+ )?\S+)/gm)].map((m) => m[1])))].map((args) => args.split(' '));

/** The page without its fenced code blocks. */
function outsideFences(text: string): string {
  let inFence = false;
  return text
    .split('\n')
    .filter((line) => {
      if (line.startsWith('```')) inFence = !inFence;
      else return !inFence;
      return false;
    })
    .join('\n');
}

/** What renders as prose: no code blocks, no inline code spans (where `[MASK](...)` is not a link). */
function prose(text: string): string {
  return outsideFences(text).replace(/`[^`\n]*`/g, '');
}

/** The anchors of a page's headings, as GitHub makes them (lower case, punctuation dropped, spaces as '-'). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of outsideFences(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe('documentation examples', () => {
  beforeAll(() => {
    for (const args of EXAMPLE_CHECKPOINTS) {
      const r = spawnSync(process.execPath, ['bin/modernbert.js', 'example-checkpoint', ...args], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('has examples to run, the README among them', () => {
    expect(EXAMPLES.filter((e) => e.page === 'README.md').length).toBeGreaterThanOrEqual(1);
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(2);
  });

  it.each(EXAMPLES.map((e) => [e.page, e.i + 1, e] as const))('%s: example %i runs and prints its documented output', (page, n, { code, output }) => {
    const dir = join(ROOT, 'test', '.readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${page.replace(/[/.]/g, '-')}-example-${n}.ts`);
    const source = code.replaceAll("from './", "from '../../").replace(/(from\s+|import\s*\(\s*)(['"])modernbert-ts\2/g, '$1$2../../tasks/index.ts$2');
    writeFileSync(file, source);
    try {
      const r = spawnSync(process.execPath, ['--import', './bin/register.js', file], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(output);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

describe('documentation pages', () => {
  it('README.md has at most 160 lines', () => {
    const lines = (TEXT.get('README.md')!.match(/\n/g) ?? []).length;
    expect(lines).toBeLessThanOrEqual(160);
  });

  it.each(PAGES)('%s: every relative link points to a file or folder of the repository (and a heading there)', (page) => {
    const broken: string[] = [];
    for (const m of prose(TEXT.get(page)!).matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1];
      if (/^[a-z]+:/i.test(link)) continue; // http(s), mailto
      const [path, anchor] = link.split('#');
      const target = path === '' ? join(ROOT, page) : resolve(ROOT, dirname(page), path);
      if (relative(ROOT, target).split(sep)[0] === '..' || !existsSync(target)) {
        broken.push(`${link}: no such file or folder`);
        continue;
      }
      if (anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
        broken.push(`${link}: no heading #${anchor} in ${relative(ROOT, target)}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
