// Token classification (NER) equals Hugging Face's token-classification pipeline on the golden folder
// (test/fixtures/token-classification: every aggregation strategy, texts with accents and punctuation), on the
// reference and on WebGPU; token offsets and strings equal the tokenizer's; bad options are errors.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Aggregation, loadModel } from '../tasks/index.ts';
import { closeSharedDevice } from '../optimized/webgpu/device.ts';
import { fixtureWithTokenizer } from './helpers.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'token-classification', 'expected.json'), 'utf8')) as {
  texts: string[];
  words: string[][];
  results: Record<Aggregation, Record<string, string | number>[][]>;
  word_results: Record<Aggregation, Record<string, string | number>[][]>;
};

const folder = () => fixtureWithTokenizer('token-classification/ner');

afterAll(closeSharedDevice);

describe('token classification', () => {
  for (const backend of ['reference', 'webgpu'] as const) {
    it(`${backend}: every aggregation strategy equals HF's pipeline (entities, words, offsets; scores within 1e-5)`, async () => {
      const model = await loadModel(folder(), { backend });
      try {
        for (const aggregation of Object.keys(expected.results) as Aggregation[]) {
          // texts, and word lists (HF's is_split_into_words: each word tokenized alone, no prefix space)
          for (const [inputs, results] of [
            [expected.texts, expected.results],
            [expected.words, expected.word_results],
          ] as const) {
            const got = await model.tokenClassify(inputs, { aggregation });
            expect(got, `${aggregation}: one entity list per input`).toHaveLength(results[aggregation].length);
            got.forEach((entities, i) => {
              const want = results[aggregation][i];
              expect(entities.map(({ score, ...e }) => e), `${aggregation} input ${i}`).toEqual(want.map(({ score, ...e }) => e));
              entities.forEach((e, k) => expect(Math.abs(e.score - (want[k].score as number)), `${aggregation} input ${i} entity ${k}`).toBeLessThan(1e-5));
            });
          }
        }
      } finally {
        model.dispose();
      }
    });
  }

  it('runs from the command line, and refuses an unknown aggregation', () => {
    const dir = folder();
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'modernbert.js'), 'token-classify', '--model', dir, '--backend', 'reference', ...args], { encoding: 'utf8' });
    const r = cli('--aggregation', 'simple', expected.texts[0]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((e: { word: string }) => e.word)).toEqual(expected.results.simple[0].map((e) => e.word));
    expect(cli('--aggregation', 'longest', 'x')).toMatchObject({ status: 2, stderr: expect.stringMatching(/--aggregation must be one of none, simple, first, average, max, got "longest"/) });
  });
});
