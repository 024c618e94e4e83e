// Sentence-level quality scoring (the paper's "sentence-level quality
// filter"). A scorer maps sentences to a score in bits per character (higher
// is better, i.e. more like the reference text). Built in: a character
// trigram model with Witten-Bell interpolation, trained on a reference set;
// the alternative is a Baichuan model's log-likelihood (model-scorer.ts).
// The threshold is a quantile of the reference's own sentence scores, so it
// needs no hand tuning per language.
import fs from 'node:fs';
import { sentences, paragraphs } from './text.js';

export interface SentenceScorer {
  /** Mean log2 probability per character of each sentence. */
  score(sents: readonly string[]): number[];
}

interface CharTrigramJSON { kind: 'char-trigram'; vocab: number; total: number; uni: [string, number][]; bi: [string, number, number][]; tri: [string, number, number][] }

/**
 * P(c | ab) = (C(abc) + T(ab) P(c | b)) / (C(ab) + T(ab)), down to a unigram with add-one
 * smoothing over the reference alphabet plus one unknown symbol (Witten-Bell interpolation).
 * T(h) is the number of distinct characters seen after h.
 */
export class CharTrigramScorer implements SentenceScorer {
  private readonly uni = new Map<string, number>();
  private readonly ctx1 = new Map<string, [number, number]>();   // b -> [C(b as context), T(b)]
  private readonly ctx2 = new Map<string, [number, number]>();   // ab -> [C(ab), T(ab)]
  private readonly bi = new Map<string, number>();
  private readonly tri = new Map<string, number>();
  private total = 0;
  private vocab = 0;

  static train(texts: Iterable<string>): CharTrigramScorer {
    const m = new CharTrigramScorer();
    for (const t of texts) {
      const cs = Array.from(t);
      for (let i = 0; i < cs.length; i++) {
        const c = cs[i]!;
        m.uni.set(c, (m.uni.get(c) ?? 0) + 1);
        m.total++;
        if (i >= 1) m.bump(m.bi, m.ctx1, cs[i - 1]!, c);
        if (i >= 2) m.bump(m.tri, m.ctx2, cs[i - 2]! + cs[i - 1]!, c);
      }
    }
    m.vocab = m.uni.size + 1;
    return m;
  }

  private bump(table: Map<string, number>, ctx: Map<string, [number, number]>, h: string, c: string): void {
    const k = h + '\u0000' + c;
    const n = table.get(k) ?? 0;
    table.set(k, n + 1);
    const e = ctx.get(h) ?? [0, 0];
    e[0]++;
    if (n === 0) e[1]++;
    ctx.set(h, e);
  }

  private prob(a: string | undefined, b: string | undefined, c: string): number {
    let p = ((this.uni.get(c) ?? 0) + 1) / (this.total + this.vocab);
    if (b !== undefined) {
      const e = this.ctx1.get(b);
      if (e) p = ((this.bi.get(b + '\u0000' + c) ?? 0) + e[1] * p) / (e[0] + e[1]);
      if (a !== undefined) {
        const e2 = this.ctx2.get(a + b);
        if (e2) p = ((this.tri.get(a + b + '\u0000' + c) ?? 0) + e2[1] * p) / (e2[0] + e2[1]);
      }
    }
    return p;
  }

  score(sents: readonly string[]): number[] {
    return sents.map((s) => {
      const cs = Array.from(s);
      if (!cs.length) return 0;
      let lp = 0;
      for (let i = 0; i < cs.length; i++) lp += Math.log2(this.prob(cs[i - 2], cs[i - 1], cs[i]!));
      return lp / cs.length;
    });
  }

  toJSON(): CharTrigramJSON {
    return {
      kind: 'char-trigram', vocab: this.vocab, total: this.total, uni: [...this.uni],
      bi: [...this.ctx1].map(([h, [c, t]]) => [h, c, t]), tri: [...this.ctx2].map(([h, [c, t]]) => [h, c, t]),
    };
  }

  /** Counts for the n-grams themselves are saved separately (see save/load). */
  save(file: string): void {
    const j = { ...this.toJSON(), biCounts: [...this.bi], triCounts: [...this.tri] };
    fs.writeFileSync(file, JSON.stringify(j));
  }

  static load(file: string): CharTrigramScorer {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as CharTrigramJSON & { biCounts: [string, number][]; triCounts: [string, number][] };
    if (j.kind !== 'char-trigram') throw new Error(`${file}: not a char-trigram scorer`);
    const m = new CharTrigramScorer();
    m.total = j.total; m.vocab = j.vocab;
    for (const [k, v] of j.uni) m.uni.set(k, v);
    for (const [h, c, t] of j.bi) m.ctx1.set(h, [c, t]);
    for (const [h, c, t] of j.tri) m.ctx2.set(h, [c, t]);
    for (const [k, v] of j.biCounts) m.bi.set(k, v);
    for (const [k, v] of j.triCounts) m.tri.set(k, v);
    return m;
  }
}

/** Sentences of a document (paragraph by paragraph) in order. */
export function docSentences(text: string): string[] {
  return paragraphs(text).flatMap((p) => sentences(p));
}

/** The q-quantile of the scores of the reference's sentences of at least `minChars` characters. */
export function referenceThreshold(scorer: SentenceScorer, referenceTexts: readonly string[], q: number, minChars: number): number {
  const sc = scorer.score(referenceTexts.flatMap(docSentences).filter((s) => s.trim().length >= minChars)).sort((a, b) => a - b);
  if (!sc.length) throw new Error('quality: the reference set has no sentences to calibrate on');
  return sc[Math.min(sc.length - 1, Math.max(0, Math.floor(q * sc.length)))]!;
}

export interface SentenceFilterResult { text: string; removedSentences: number; removedChars: number; quality: number; examples: string[] }

/**
 * Removes sentences (of at least `minChars` characters) scoring below `threshold`; shorter
 * sentences are kept as they are. Document quality = character-weighted mean score of the
 * scored sentences that remain (the threshold when none were scored).
 */
export function filterSentences(text: string, scorer: SentenceScorer, threshold: number, minChars: number): SentenceFilterResult {
  const paras = paragraphs(text).map((p) => sentences(p));
  const flat = paras.flat();
  const scoredIdx = flat.map((s, i) => (s.trim().length >= minChars ? i : -1)).filter((i) => i >= 0);
  const scores = scorer.score(scoredIdx.map((i) => flat[i]!));
  const drop = new Set<number>();
  let wsum = 0, w = 0;
  const examples: string[] = [];
  scoredIdx.forEach((i, j) => {
    if (scores[j]! < threshold) { drop.add(i); if (examples.length < 2) examples.push(flat[i]!); }
    else { wsum += scores[j]! * flat[i]!.length; w += flat[i]!.length; }
  });
  const quality = w > 0 ? wsum / w : threshold;
  if (!drop.size) return { text, removedSentences: 0, removedChars: 0, quality, examples };
  let k = 0, removedChars = 0;
  const out = paras.map((ss) => ss.filter((s) => { const keep = !drop.has(k++); if (!keep) removedChars += s.length; return keep; }).join('')).filter((p) => p.trim() !== '');
  return { text: out.join('\n\n'), removedSentences: drop.size, removedChars, quality, examples };
}
