// Small checkpoint folders in the real formats, for tests, examples and trying the library: ModernBERT's real
// tokenizer (bundled in test/fixtures/tokenizer/modernbert) and a 3-layer model of the real vocabulary size
// (50,368) with seeded random weights (HF's initialization). Their predictions are meaningless; their files,
// shapes and text paths are those of the real models of each kind:
//   masked-lm         ModernBertForMaskedLM (an MLM head, and a two-label classifier: fill-mask, classify, embed)
//   embedder          a sentence-transformers folder (modules.json: Transformer, mean Pooling, Normalize)
//   reranker          a cross-encoder (ModernBertForSequenceClassification, one label, sigmoid)
//   token-classifier  ModernBertForTokenClassification with BIO labels (O, B-PER, I-PER, B-LOC, I-LOC)
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
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

export const EXAMPLE_KINDS = ['masked-lm', 'embedder', 'reranker', 'token-classifier'] as const;
export type ExampleKind = (typeof EXAMPLE_KINDS)[number];

// What each kind changes in the config; the sentence-transformers files are written below.
const KIND_CONFIG: Record<ExampleKind, Partial<Record<keyof typeof EXAMPLE_CONFIG, unknown>>> = {
  'masked-lm': {},
  embedder: { architectures: ['ModernBertModel'] },
  reranker: { architectures: ['ModernBertForSequenceClassification'], id2label: { '0': 'LABEL_0' } },
  'token-classifier': { architectures: ['ModernBertForTokenClassification'], id2label: { '0': 'O', '1': 'B-PER', '2': 'I-PER', '3': 'B-LOC', '4': 'I-LOC' } },
};

/** Writes a folder of `kind` into `dir`: config.json, model.safetensors, tokenizer.json, tokenizer_config.json, and the kind's own files. Returns the files written. */
export function writeExampleCheckpoint(dir: string, seed = 0, kind: ExampleKind = 'masked-lm'): string[] {
  const config = parseConfig({ ...EXAMPLE_CONFIG, ...KIND_CONFIG[kind] }, `the ${kind} example config`);
  mkdirSync(dir, { recursive: true });
  saveCheckpoint(dir, config, randomTensors(config, seed));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(BUNDLED_TOKENIZER, f), join(dir, f));
  const written = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];
  const json = (file: string, value: unknown) => {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), JSON.stringify(value, null, 2) + '\n');
    written.push(file);
  };
  const transformer = { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' };
  if (kind === 'embedder') {
    json('modules.json', [transformer, { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' }, { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' }]);
    json('1_Pooling/config.json', { word_embedding_dimension: config.hiddenSize, pooling_mode_mean_tokens: true, include_prompt: true });
    json('config_sentence_transformers.json', { model_type: 'SentenceTransformer', prompts: {}, default_prompt_name: null, similarity_fn_name: 'cosine' });
  }
  if (kind === 'reranker') {
    json('modules.json', [transformer]);
    json('config_sentence_transformers.json', { model_type: 'CrossEncoder', activation_fn: 'torch.nn.modules.activation.Sigmoid', prompts: {}, default_prompt_name: null });
  }
  return written;
}
