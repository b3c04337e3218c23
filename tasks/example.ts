// A small checkpoint folder in the real format, for tests and examples: ModernBERT's real tokenizer (bundled
// in test/fixtures/tokenizer/modernbert) and a 3-layer model of the real vocabulary size (50,368) with seeded
// random weights (HF's initialization), an MLM head and a two-label classifier. Its predictions are
// meaningless; its files, shapes and text path are those of ModernBERT-base.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomTensors } from '../reference/checkpoint.ts';
import { parseConfig } from '../reference/config.ts';
import { saveCheckpoint } from '../reference/files.ts';

export const BUNDLED_TOKENIZER = fileURLToPath(new URL('../test/fixtures/tokenizer/modernbert', import.meta.url));

export const EXAMPLE_CONFIG = {
  architectures: ['ModernBertForMaskedLM'],
  model_type: 'modernbert',
  vocab_size: 50368,
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  global_attn_every_n_layers: 3,
  local_attention: 16,
  max_position_embeddings: 512,
  pad_token_id: 50283,
  bos_token_id: 50281,
  eos_token_id: 50282,
  cls_token_id: 50281,
  sep_token_id: 50282,
  classifier_pooling: 'mean',
  id2label: { '0': 'negative', '1': 'positive' },
};

/** Writes config.json, model.safetensors, tokenizer.json and tokenizer_config.json into `dir`. */
export function writeExampleCheckpoint(dir: string, seed = 0): void {
  const config = parseConfig(EXAMPLE_CONFIG, 'the example config');
  mkdirSync(dir, { recursive: true });
  saveCheckpoint(dir, config, randomTensors(config, seed));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(BUNDLED_TOKENIZER, f), join(dir, f));
}
