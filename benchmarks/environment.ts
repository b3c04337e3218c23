// What every result row records about where it ran: the date, the project's commit, the machine (a slug that
// names the reports/ folder and groups the leaderboard), the runtime and package versions.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ResultRow } from './results.ts';
import { slug } from './adapter.ts';

export const PROJECT_ROOT = join(import.meta.dirname, '..');

/** Short commit hash, "-dirty" when tracked files are modified; "unknown" outside a git checkout. */
export function gitCommit(root = PROJECT_ROOT): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' });
  return head.stdout.trim() + (status.stdout.trim() ? '-dirty' : '');
}

export function cpuModel(): string {
  return cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
}

/** The machine: its GPU when it has one, else "cpu-<cores>x-<model>". SwiftShader is not a GPU. */
export function deviceSlug(gpu: string | null): string {
  return gpu ? slug(gpu) : `cpu-${cpus().length}x-${slug(cpuModel())}`;
}

/** Whether this code runs from a bundle for a GPU machine (benchmarks/gpu/prepare.ts), which carries the versions it was built with. */
export const BUNDLED = Boolean(process.env.MODERNBERT_BUNDLED_VERSIONS);

export function packageVersion(name: string): string {
  const bundled = process.env.MODERNBERT_BUNDLED_VERSIONS;
  if (bundled) return (JSON.parse(bundled) as Record<string, string>)[name] ?? 'bundled';
  try {
    return JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'missing';
  }
}

/** The fields every row of one run shares: where and when it ran. */
export function commonFields(device: string, date = new Date().toISOString()): Partial<ResultRow> {
  return { date, commit: gitCommit(), device, runtime: `node ${process.versions.node}`, cpu: `${cpuModel()} (${cpus().length} logical cores)`, memory_bytes: totalmem(), os: `${platform()} ${release()} ${arch()}` };
}
