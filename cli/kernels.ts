// `modernbert kernels`: the engine's kernel variants for ModernBERT base and large, and (--stats) what AMD's
// production compiler makes of each, through Mesa's RADV with no GPU (tools/shader-stats/stats.ts).
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../reference/files.ts';
import { type Family, FAMILIES, OCCUPANCY, baselineOf, buildHelper, compareWithBaseline, compileKernels, kernelVariants, readBaseline, requireTools, spilling, statsJson, statsTable } from '../tools/shader-stats/stats.ts';

export async function kernelsCommand(args: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      stats: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      build: { type: 'boolean', default: false },
      family: { type: 'string', default: 'navi21' },
      defaults: { type: 'boolean', default: false },
      filter: { type: 'string' },
      json: { type: 'boolean', default: false },
      compare: { type: 'string' },
      'write-baseline': { type: 'string' },
    },
  });
  const modes = (['stats', 'list', 'build'] as const).filter((m) => values[m]);
  if (modes.length !== 1) throw new Error(`expected one of --stats, --list or --build${modes.length ? `, got ${modes.map((m) => `--${m}`).join(' and ')}` : ''}`);
  const families = [...new Set(values.family.split(',').map((f) => f.trim()))];
  for (const f of families) {
    if (!(FAMILIES as readonly string[]).includes(f)) throw new Error(`--family: "${f}" is not ${FAMILIES.join(' or ')} (a comma-separated list of them)`);
  }
  if (!values.stats) {
    for (const flag of ['compare', 'write-baseline'] as const) if (values[flag] !== undefined) throw new Error(`--${flag} goes with --stats`);
  }
  if (values['write-baseline'] !== undefined && values.filter !== undefined) throw new Error('--write-baseline records every default kernel: it does not take --filter');
  if (values.compare !== undefined && !existsSync(values.compare)) throw new Error(`--compare: ${values.compare}: file not found`);

  if (values.build) {
    out(buildHelper() + '\n');
    return 0;
  }
  const filter = values.filter;
  const variants = (await kernelVariants(values.defaults ? 'defaults' : 'full')).filter((v) => filter === undefined || v.kernel.includes(filter));
  if (!variants.length) throw new Error(`--filter: no kernel's name contains "${filter}"`);
  if (values.list) {
    out(values.json ? variants.map((v) => JSON.stringify({ kernel: v.kernel, default: v.default })).join('\n') + '\n' : variants.map((v) => `${v.default ? 'default ' : '        '}${v.kernel}`).join('\n') + '\n');
    return 0;
  }

  requireTools(); // before any output: a missing package is the whole answer
  err(`kernels: compiling ${variants.length} kernel variant${variants.length === 1 ? '' : 's'} for ${families.join(', ')} (Dawn's SPIR-V on SwiftShader takes seconds a kernel)\n`);
  const { rows, driver } = await compileKernels(variants, { families: families as Family[], progress: (line) => err(`kernels: ${line}\n`) });
  if (values.json) out(statsJson(rows));
  else {
    const chips = families.map((f) => `${f} (${OCCUPANCY[f as Family].chip})`).join(', ');
    out(`${driver} with no GPU (AMD's compiler, ACO) for ${chips}; waves_per_simd: occupancy from the VGPRs alone\n${statsTable(rows)}`);
  }

  let status = 0;
  if (values.compare !== undefined) {
    const { regressions, missing, table } = compareWithBaseline(rows, readBaseline(values.compare));
    const spills = spilling(rows.filter((r) => r.default));
    if (regressions.length) err(`kernels: ${regressions.length} default kernel(s) grew by more than 10% in VGPRs over ${values.compare}:\n${table}`);
    if (spills.length) err(`kernels: default kernels that spill or use scratch: ${spills.map((r) => `${r.kernel} on ${r.family}`).join(', ')}\n`);
    if (missing.length) err(`kernels: not in ${values.compare} (regenerate it to gate them): ${missing.join(', ')}\n`);
    if (!regressions.length && !spills.length) err(`kernels: no default kernel spills or grew by more than 10% in VGPRs over ${values.compare}\n`);
    status = regressions.length || spills.length ? 1 : 0;
  }
  const baselineFile = values['write-baseline'];
  if (baselineFile !== undefined) {
    writeFileAtomic(baselineFile, JSON.stringify(baselineOf(rows, existsSync(baselineFile) ? readBaseline(baselineFile) : undefined), null, 2) + '\n');
    err(`kernels: wrote ${baselineFile}\n`);
  }
  return status;
}
