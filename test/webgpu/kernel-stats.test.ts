// The GPU's compiler in CI: the engine's default kernels, compiled by AMD's compiler (Mesa's RADV with no GPU) for
// RDNA2 (navi21) and CDNA2 (aldebaran), must not spill or use scratch memory, nor need more than 10% more VGPRs
// than the committed baseline (test/fixtures/kernel-stats-baseline.json; regenerate it with
// `npx modernbert kernels --stats --defaults --family navi21,aldebaran --write-baseline test/fixtures/kernel-stats-baseline.json`).
// Dawn makes each kernel's SPIR-V on SwiftShader, seconds a kernel: the defaults plus a small sample of the
// tuner's space run here; `modernbert kernels --stats` covers the whole space.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FAMILIES,
  type KernelStats,
  type KernelVariant,
  compareWithBaseline,
  compileKernels,
  kernelVariants,
  readBaseline,
  requireTools,
  spilling,
  statsTable,
  wavesPerSimd,
} from '../../tools/shader-stats/stats.ts';
import { tempDir } from '../helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/modernbert.js');
const BASELINE = join(ROOT, 'test/fixtures/kernel-stats-baseline.json');

// Two kernels no compiler can keep in registers: a private array of 1024 floats indexed at run time (scratch
// memory), and 320 values all live across a store (more than a wave's 256 VGPRs: spills).
const PRIVATE_ARRAY: KernelVariant = {
  kernel: 'planted_private_array',
  default: false,
  constants: {},
  source: `@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  var values: array<f32, 1024>;
  for (var i = 0u; i < 1024u; i++) { values[(i * 7u + id.x) % 1024u] = data[i]; }
  data[id.x] = values[u32(data[id.x]) % 1024u];
}
`,
};
const LIVE = [...Array(320).keys()];
const LIVE_VALUES: KernelVariant = {
  kernel: 'planted_live_values',
  default: false,
  constants: {},
  source: `@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
${LIVE.map((i) => `  let v${i} = data[id.x * 320u + ${i}u];`).join('\n')}
  data[id.x] = 0.0; // every load above comes before this store, so every value is live across it
  var s = 0.0;
${LIVE.map((i) => `  s = s * v${i} + v${319 - i};`).join('\n')}
  data[id.x + 1u] = s;
}
`,
};
const PLANTED = [PRIVATE_ARRAY, LIVE_VALUES].map((v) => v.kernel);

// Beside the defaults, a sample of the rest, quick to make on SwiftShader: split-K's reduction, flash attention v1.
const SAMPLE = [/^gemm_reduce_yf32\(EPILOGUE=3,/, /^flash_attention\(/];

describe('the register gate', () => {
  const row = (kernel: string, vgprs: number): KernelStats => ({ kernel, family: 'navi21', default: true, vgprs, sgprs: 128, spilled_vgprs: 0, spilled_sgprs: 0, scratch_bytes: 0, code_bytes: 1000, waves_per_simd: 0 });
  const baseline = { note: '', vgprs: { navi21: { grown: 100, same: 48, edge: 100 } } };

  it('fails a kernel grown by more than 10% and prints kernel, baseline, now and change', () => {
    const { regressions, missing, table } = compareWithBaseline([row('grown', 112), row('same', 48), row('edge', 110), row('new', 8)], baseline);
    expect(regressions.map((r) => r.kernel)).toEqual(['grown']); // 10% exactly passes
    expect(missing).toEqual(['navi21 new']);
    expect(table.split('\n')[0]).toMatch(/^kernel +\| family +\| baseline \| now \| change$/);
    expect(table).toMatch(/grown +\| navi21 +\| +100 \| 112 \| +\+12\.0%/);
  });

  it('passes when nothing grew past 10%, and ignores kernels that are not defaults', () => {
    expect(compareWithBaseline([row('grown', 104), { ...row('other', 500), default: false }], baseline).regressions).toEqual([]);
  });
});

describe('occupancy', () => {
  it('follows LLVM AMDGPU: VGPRs rounded up to the granule, into the SIMD budget, capped at the wave limit', () => {
    expect(wavesPerSimd('navi21', 48, 64)).toBe(10); // 512 / 48
    expect(wavesPerSimd('navi21', 49, 64)).toBe(9); // 512 / 56
    expect(wavesPerSimd('navi21', 216, 64)).toBe(2);
    expect(wavesPerSimd('navi21', 48, 32)).toBe(16); // 1024 / 48 = 21, capped at 16
    expect(wavesPerSimd('navi21', 72, 32)).toBe(12); // 1024 / 80
    expect(wavesPerSimd('navi21', 4, 64)).toBe(16);
    expect(wavesPerSimd('aldebaran', 48, 64)).toBe(8); // 512 / 48 = 10, capped at 8
    expect(wavesPerSimd('aldebaran', 128, 64)).toBe(4);
    expect(wavesPerSimd('aldebaran', 212, 64)).toBe(2);
    expect(() => wavesPerSimd('aldebaran', 48, 32)).toThrow('aldebaran: no VGPR budget for a wave of 32');
  });
});

describe('tools', () => {
  it('names the Debian package of each missing tool', () => {
    const path = process.env.PATH;
    process.env.PATH = '';
    try {
      expect(() => requireTools()).toThrow(/a C compiler \(cc\).*\(Debian package gcc\).*spirv-as.*\(Debian package spirv-tools\).*: apt-get install gcc spirv-tools$/);
    } finally {
      process.env.PATH = path;
    }
  });
});

// Dawn makes each kernel's SPIR-V on SwiftShader, seconds a kernel: everything that needs it shares one run.
describe('compiled by RADV: the defaults, a sample and the planted kernels', () => {
  let variants: KernelVariant[];
  let rows: KernelStats[];

  beforeAll(async () => {
    const all = await kernelVariants('full');
    variants = [...all.filter((v) => v.default || SAMPLE.some((re) => re.test(v.kernel))), PRIVATE_ARRAY, LIVE_VALUES];
    rows = (await compileKernels(variants, { families: FAMILIES })).rows;
    console.log(statsTable(rows));
  }, 600_000);

  describe('kernel variants', () => {
    it('come from the engine: every kernel of a forward pass by default, and the tuner space, baselines and ablations', async () => {
      const defaults = variants.filter((v) => v.default).map((v) => v.kernel);
      for (const k of ['embedding_f32_f32', 'embedding_f16_f32', 'layernorm_f32_f16', 'rope_f16', 'pool', 'flash_attention_v2_d64(BR=64,BC=32)', 'flash_attention_v2_d64_f16(BR=64,BC=32)']) expect(defaults).toContain(k);
      expect(defaults.filter((k) => k.startsWith('gemm_')).length).toBeGreaterThanOrEqual(8); // 2 tiles x 4 epilogues, and f16 storage's
      // chosen under Dawn's 32 KiB of workgroup memory: no default tile had to halve TK 16 (WebGPU's default 16 KiB would)
      expect(defaults.filter((k) => /TK=8\b|_tk8\b/.test(k))).toEqual([]);
      const full = (await kernelVariants('full')).map((v) => v.kernel);
      for (const k of ['attention_materialized', 'gemm_naive', 'gemm_reduce_yf16(EPILOGUE=3,ACTIVATION=0)', 'flash_attention_v2_d64_f16(BR=128,BC=64)', 'flash_attention(D=64)']) expect(full).toContain(k);
      for (const kernel of ['gemm_v2_', 'gemm_v3_', 'gemm_v1(']) expect(full.some((k) => k.startsWith(kernel)), kernel).toBe(true);
      expect(full.some((k) => /_partial_|PARTIAL=1/.test(k))).toBe(true); // split-K's first pass
      expect(new Set(full).size).toBe(full.length);
    });
  });

  describe('kernels on RADV (no GPU)', () => {
    it('every default kernel compiles for navi21 and aldebaran with no spill and no scratch', () => {
      const defaults = rows.filter((r) => r.default);
      expect(defaults).toHaveLength(FAMILIES.length * variants.filter((v) => v.default).length);
      const bad = spilling(defaults);
      expect(bad, `kernels that spill or use scratch:\n${statsTable(bad)}`).toEqual([]);
      for (const r of defaults) expect(r.vgprs).toBeGreaterThan(0);
    });

    it('planted kernels spill or go to scratch on both chips: the check can fail', () => {
      const array = rows.filter((r) => r.kernel === PRIVATE_ARRAY.kernel);
      const live = rows.filter((r) => r.kernel === LIVE_VALUES.kernel);
      expect(array.map((r) => r.family)).toEqual([...FAMILIES]);
      expect(live.map((r) => r.family)).toEqual([...FAMILIES]);
      for (const r of array) expect(r.scratch_bytes, statsTable([r])).toBeGreaterThan(0);
      for (const r of live) expect(r.spilled_vgprs, statsTable([r])).toBeGreaterThan(0);
      expect(spilling(rows).filter((r) => PLANTED.includes(r.kernel))).toEqual([...array, ...live].sort((a, b) => rows.indexOf(a) - rows.indexOf(b)));
    });

    it('no default kernel needs more than 10% more VGPRs than the committed baseline', () => {
      const { regressions, missing, table } = compareWithBaseline(rows, readBaseline(BASELINE));
      expect(missing, `default kernels the baseline lacks (regenerate ${BASELINE}; see this file's header)`).toEqual([]);
      expect(regressions, `VGPR regressions over ${BASELINE}:\n${table}`).toEqual([]);
    });
  });

  describe('modernbert kernels', () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, 'kernels', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });

    it('--json prints one object per kernel and family with exactly the documented keys; --compare gates on a baseline', () => {
      const dir = tempDir();
      const baseline = join(dir, 'baseline.json');
      writeFileSync(baseline, JSON.stringify({ note: 'planted: rope_f32 needed 4 VGPRs', vgprs: { navi21: { rope_f32: 4 }, aldebaran: { rope_f32: 1000 } } }));
      const r = cli('--stats', '--defaults', '--filter', 'rope_f32', '--family', 'navi21,aldebaran', '--json', '--compare', baseline);
      expect(r.status, r.stderr).toBe(1);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as KernelStats);
      expect(lines.map((l) => [l.kernel, l.family])).toEqual([
        ['rope_f32', 'navi21'],
        ['rope_f32', 'aldebaran'],
      ]);
      for (const l of lines) expect(Object.keys(l)).toEqual(['kernel', 'family', 'default', 'vgprs', 'sgprs', 'spilled_vgprs', 'spilled_sgprs', 'scratch_bytes', 'code_bytes', 'waves_per_simd']);
      expect(lines[0]).toEqual(rows.find((x) => x.kernel === 'rope_f32' && x.family === 'navi21'));
      expect(r.stderr).toMatch(/1 default kernel\(s\) grew by more than 10% in VGPRs/);
      expect(r.stderr).toMatch(new RegExp(`rope_f32 \\| navi21 \\| +4 \\| +${lines[0].vgprs} \\|`));
    });

    it('prints a table by default; bad options are exit 2 with one line naming them', () => {
      const table = cli('--stats', '--defaults', '--filter', 'embedding_f32');
      expect(table.status, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/^Mesa [\d.]+ RADV with no GPU \(AMD's compiler, ACO\) for navi21 \(gfx1030, RDNA2\)/);
      expect(table.stdout).toMatch(/\nkernel +\| family +\| default \| vgprs \| sgprs \| spilled_vgprs \| spilled_sgprs \| scratch_bytes \| code_bytes \| waves_per_simd\n/);
      expect(table.stdout).toMatch(/\nembedding_f32_f32 +\| navi21 +\| yes/);
      for (const [args, message] of [
        [['--stats', '--family', 'gfx1100'], '--family: "gfx1100" is not navi21 or aldebaran'],
        [['--family', 'navi21'], 'expected one of --stats, --list or --build'],
        [['--list', '--compare', 'x.json'], '--compare goes with --stats'],
        [['--stats', '--frobnicate'], 'modernbert kernels: unknown option --frobnicate\n'],
      ] as const) {
        const r = cli(...args);
        expect(r.status, r.stderr).toBe(2);
        expect(r.stderr).toContain(message);
        expect(r.stdout).toBe('');
      }
    });
  });
});
