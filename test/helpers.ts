import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

export const GOLDEN = join(import.meta.dirname, 'fixtures', 'golden');
export const GOLDEN_CASES = ['tiny', 'window', 'rope', 'meanpool', 'bias', 'swiglu', 'relu'];
const BASE_OUTPUTS = ['cls_logits', 'hidden_states', 'last_hidden_state', 'mean_logits', 'mlm_logits'];
/** The fp32 outputs each golden case's io.safetensors holds, sorted: every case has the base five; the activation cases add token classification, and `relu` (2 labels) question answering. */
export function goldenOutputs(name: string): string[] {
  const extra: Record<string, string[]> = { swiglu: ['token_logits'], relu: ['token_logits', 'start_logits', 'end_logits'] };
  return [...BASE_OUTPUTS, ...(extra[name] ?? [])].sort();
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A temporary directory removed after the test. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'modernbert-test-'));
  dirs.push(d);
  return d;
}

/**
 * A temporary copy of a model folder under test/fixtures (e.g. 'multiple-choice/swag') with the ModernBERT
 * tokenizer copied in: the fixture folders leave it out rather than repeat its 3.5 MB.
 */
export function fixtureWithTokenizer(path: string): string {
  const d = join(tempDir(), path.split('/').at(-1)!);
  cpSync(join(import.meta.dirname, 'fixtures', path), d, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(import.meta.dirname, 'fixtures', 'tokenizer', 'modernbert', f), join(d, f));
  return d;
}

/** A temporary copy of a golden case folder, to corrupt freely. */
export function copyOfCase(name: string): string {
  const d = join(tempDir(), name);
  cpSync(join(GOLDEN, name), d, { recursive: true });
  return d;
}

const ROOT = join(import.meta.dirname, '..');

/** Runs `npm run bench -- args` (without npm), with `env` added to the environment, and returns its exit code and output. */
export function bench(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', './bin/register.js', 'benchmarks/run.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
