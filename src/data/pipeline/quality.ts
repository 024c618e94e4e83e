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

/**
 * P(c | ab) = (C(abc) + T(ab) P(c | b)) / (C(ab) + T(ab)), down to a unigram with add-one
 * smoothing over the reference alphabet plus one unknown symbol (Witten-Bell interpolation).
 * T(h) is the number of distinct characters seen after h.
 */
export class CharTrigramScorer implements SentenceScorer {
  // characters are mapped to ids 1..; n-gram keys are numbers: id, a*S + b, (a*S + b)*S + c with
  // S = 2^17 (exact in a double for up to 131,071 distinct characters)
  private readonly ids = new Map<string, number>();
  private uni = new Float64Array(0);                       // id -> count
  private readonly ctx1 = new Map<number, [number, number]>();   // b -> [C(b as context), T(b)]
  private readonly ctx2 = new Map<number, [number, number]>();   // ab -> [C(ab), T(ab)]
  private readonly bi = new Map<number, number>();
  private readonly tri = new Map<number, number>();
  private total = 0;
  private vocab = 0;

  private static readonly S = 131072;

  static train(texts: Iterable<string>): CharTrigramScorer {
    const m = new CharTrigramScorer();
    const uni: number[] = [0];
    for (const t of texts) {
      let a = 0, b = 0;
      for (const ch of t) {
        let c = m.ids.get(ch);
        if (c === undefined) {
          c = m.ids.size + 1;
          if (c >= CharTrigramScorer.S) throw new Error('quality: the reference has more than 131,071 distinct characters');
          m.ids.set(ch, c);
          uni.push(0);
        }
        uni[c]!++;
        m.total++;
        if (b) m.bump(m.bi, m.ctx1, b, b * CharTrigramScorer.S + c);
        if (a) m.bump(m.tri, m.ctx2, a * CharTrigramScorer.S + b, (a * CharTrigramScorer.S + b) * CharTrigramScorer.S + c);
        a = b; b = c;
      }
    }
    m.uni = Float64Array.from(uni);
    m.vocab = m.ids.size + 1;
    return m;
  }

  private bump(table: Map<number, number>, ctx: Map<number, [number, number]>, h: number, k: number): void {
    const n = table.get(k) ?? 0;
    table.set(k, n + 1);
    const e = ctx.get(h) ?? [0, 0];
    e[0]++;
    if (n === 0) e[1]++;
    ctx.set(h, e);
  }

  /** log2 P(c | a b); ids of 0 mean "no character" (start) and unseen characters get id -1. */
  private logProb(a: number, b: number, c: number): number {
    const S = CharTrigramScorer.S;
    let p = ((c > 0 ? this.uni[c]! : 0) + 1) / (this.total + this.vocab);
    if (b > 0) {
      const e = this.ctx1.get(b);
      if (e) p = ((c > 0 ? (this.bi.get(b * S + c) ?? 0) : 0) + e[1] * p) / (e[0] + e[1]);
      if (a > 0) {
        const e2 = this.ctx2.get(a * S + b);
        if (e2) p = ((c > 0 ? (this.tri.get((a * S + b) * S + c) ?? 0) : 0) + e2[1] * p) / (e2[0] + e2[1]);
      }
    }
    return Math.log2(p);
  }

  /** P(c | the last two characters of `context`), for tests and inspection. */
  conditional(context: string, c: string): number {
    const cs = Array.from(context).slice(-2).map((ch) => this.ids.get(ch) ?? -1);
    while (cs.length < 2) cs.unshift(0);
    return 2 ** this.logProb(cs[0]!, cs[1]!, this.ids.get(c) ?? -1);
  }

  /** The characters seen in the reference. */
  alphabet(): string[] {
    return [...this.ids.keys()];
  }

  score(sents: readonly string[]): number[] {
    return sents.map((s) => {
      let a = 0, b = 0, n = 0, lp = 0;
      for (const ch of s) {
        const c = this.ids.get(ch) ?? -1;
        lp += this.logProb(a, b, c);
        n++;
        a = b; b = c;
      }
      return n ? lp / n : 0;
    });
  }

  save(file: string): void {
    const j = { kind: 'char-trigram', total: this.total, vocab: this.vocab, chars: [...this.ids.keys()], uni: Array.from(this.uni),
      ctx1: [...this.ctx1].flat(2), ctx2: [...this.ctx2].flat(2), bi: [...this.bi].flat(), tri: [...this.tri].flat() };
    fs.writeFileSync(file, JSON.stringify(j));
  }

  static load(file: string): CharTrigramScorer {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { kind: string; total: number; vocab: number; chars: string[]; uni: number[]; ctx1: number[]; ctx2: number[]; bi: number[]; tri: number[] };
    if (j.kind !== 'char-trigram') throw new Error(`${file}: not a char-trigram scorer`);
    const m = new CharTrigramScorer();
    m.total = j.total; m.vocab = j.vocab;
    j.chars.forEach((c, i) => m.ids.set(c, i + 1));
    m.uni = Float64Array.from(j.uni);
    for (let i = 0; i < j.ctx1.length; i += 3) m.ctx1.set(j.ctx1[i]!, [j.ctx1[i + 1]!, j.ctx1[i + 2]!]);
    for (let i = 0; i < j.ctx2.length; i += 3) m.ctx2.set(j.ctx2[i]!, [j.ctx2[i + 1]!, j.ctx2[i + 2]!]);
    for (let i = 0; i < j.bi.length; i += 2) m.bi.set(j.bi[i]!, j.bi[i + 1]!);
    for (let i = 0; i < j.tri.length; i += 2) m.tri.set(j.tri[i]!, j.tri[i + 1]!);
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
