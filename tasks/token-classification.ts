// Token classification results as Hugging Face's token-classification pipeline makes them from the logits:
// softmax per token, then the aggregation strategy (none: every token; simple: adjacent tokens of one entity
// grouped, B-/I- tags respected; first / average / max: tokens of a word agree first), and the labels in
// ignoreLabels (default "O") left out. Words: a token starts a new word unless it follows a character other
// than a space (HF's heuristic for tokenizers without a continuing-subword prefix, as ModernBERT's).

export type Aggregation = 'none' | 'simple' | 'first' | 'average' | 'max';
export const AGGREGATIONS: readonly Aggregation[] = ['none', 'simple', 'first', 'average', 'max'];

/** One token (aggregation none), with HF's keys. */
export interface TokenEntity {
  entity: string;
  score: number;
  /** the token's position in the model's input ids ([CLS] is 0) */
  index: number;
  /** the token string */
  word: string;
  start: number;
  end: number;
}

/** A group of tokens or words of one entity (other aggregations), with HF's keys. */
export interface EntityGroup {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

/** One text's token strings, character offsets and per-token label probabilities. */
export interface TokenScores {
  text: string;
  tokens: string[];
  offsets: [number, number][];
  /** the input id position of tokens[0] */
  first: number;
  /** [tokens.length][labels] */
  scores: Float64Array[];
}

interface Scored {
  entity: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

export function tokenEntities(t: TokenScores, id2label: readonly string[], aggregation: Aggregation, tokensToString: (tokens: readonly string[]) => string, ignoreLabels: readonly string[] = ['O']): (TokenEntity | EntityGroup)[] {
  const pre = t.tokens.map((word, i) => {
    const [start, end] = t.offsets[i];
    return { word, start, end, index: t.first + i, scores: t.scores[i], isSubword: start > 0 && !t.text.slice(start - 1, start + 1).includes(' ') };
  });
  const best = (scores: ArrayLike<number>) => {
    let k = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i] > scores[k]) k = i; // the first of ties, as numpy's argmax
    return { entity: id2label[k], score: scores[k] };
  };
  let entities: (Scored & { index?: number })[];
  if (aggregation === 'none' || aggregation === 'simple') {
    entities = pre.map((p) => ({ ...best(p.scores), index: p.index, word: p.word, start: p.start, end: p.end }));
  } else {
    const words: (typeof pre)[] = [];
    for (const p of pre) {
      if (words.length && p.isSubword) words.at(-1)!.push(p);
      else words.push([p]);
    }
    entities = words.map((w) => {
      let chosen: { entity: string; score: number };
      if (aggregation === 'first') chosen = best(w[0].scores);
      else if (aggregation === 'max') chosen = best(w.reduce((a, b) => (Math.max(...b.scores) > Math.max(...a.scores) ? b : a)).scores);
      else chosen = best(Float64Array.from(w[0].scores, (_, k) => w.reduce((s, p) => s + p.scores[k], 0) / w.length));
      return { ...chosen, word: tokensToString(w.map((p) => p.word)), start: w[0].start, end: w.at(-1)!.end };
    });
  }
  const result: (TokenEntity | EntityGroup)[] = aggregation === 'none' ? (entities as TokenEntity[]) : groupEntities(entities, tokensToString);
  return result.filter((e) => !ignoreLabels.includes('entity' in e ? e.entity : e.entity_group));
}

/** Adjacent entities of one tag merged (a B- tag starts a new group), as HF's group_entities. */
function groupEntities(entities: Scored[], tokensToString: (tokens: readonly string[]) => string): EntityGroup[] {
  const tag = (name: string): [string, string] => (name.startsWith('B-') || name.startsWith('I-') ? [name[0], name.slice(2)] : ['I', name]);
  const groups: Scored[][] = [];
  for (const e of entities) {
    const last = groups.at(-1)?.at(-1);
    const [bi, t] = tag(e.entity);
    if (last && t === tag(last.entity)[1] && bi !== 'B') groups.at(-1)!.push(e);
    else groups.push([e]);
  }
  return groups.map((g) => ({
    entity_group: g[0].entity.includes('-') ? g[0].entity.slice(g[0].entity.indexOf('-') + 1) : g[0].entity,
    score: g.reduce((s, e) => s + e.score, 0) / g.length,
    word: tokensToString(g.map((e) => e.word)),
    start: g[0].start,
    end: g.at(-1)!.end,
  }));
}
