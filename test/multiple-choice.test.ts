// Multiple choice: a ModernBertForMultipleChoice folder (test/fixtures/multiple-choice) scores a prompt's choices
// as Hugging Face does (its logits within 1e-5, on the reference and on WebGPU); its config loads with the
// one-output classifier whatever num_labels says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../tasks/index.ts';
import { configToJson, parseConfig } from '../reference/config.ts';
import { closeSharedDevice } from '../optimized/webgpu/device.ts';
import { fixtureWithTokenizer, tempDir } from './helpers.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'multiple-choice', 'expected.json'), 'utf8')) as { prompt: string; choices: string[]; logits: number[]; probabilities: number[] };

const folder = () => fixtureWithTokenizer('multiple-choice/swag');

afterAll(closeSharedDevice);

describe('multiple choice', () => {
  for (const backend of ['reference', 'webgpu'] as const) {
    it(`${backend}: logits and probabilities of each choice equal HF's ModernBertForMultipleChoice`, async () => {
      const model = await loadModel(folder(), { backend });
      try {
        const got = await model.multipleChoice(expected.prompt, expected.choices);
        expect([got.logits.length, got.probabilities.length], 'one logit and one probability per choice').toEqual([expected.choices.length, expected.choices.length]);
        got.logits.forEach((l, i) => expect(Math.abs(l - expected.logits[i])).toBeLessThan(1e-5));
        got.probabilities.forEach((p, i) => expect(Math.abs(p - expected.probabilities[i])).toBeLessThan(1e-5));
        expect(got.index).toBe(expected.probabilities.indexOf(Math.max(...expected.probabilities)));
      } finally {
        model.dispose();
      }
    });
  }

  it('reads the architecture (one output, whatever num_labels), round-trips it, and refuses other checkpoints', async () => {
    const c = parseConfig({ architectures: ['ModernBertForMultipleChoice'], num_labels: 5 });
    expect([c.multipleChoice, c.id2label]).toEqual([true, ['score']]);
    expect(parseConfig(configToJson(c))).toEqual(c);
    expect(parseConfig({}).multipleChoice).toBe(false);
    const dir = join(tempDir(), 'example');
    (await import('../tasks/example.ts')).writeExampleCheckpoint(dir);
    const plain = await loadModel(dir, { backend: 'reference' });
    await expect(plain.multipleChoice('q', ['a', 'b'])).rejects.toThrow('multipleChoice needs a ModernBertForMultipleChoice checkpoint (config.json architectures)');
    plain.dispose();
  });
});
