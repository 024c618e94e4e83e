// Corpus BLEU as sacreBLEU 2.x computes it by default: tokeniser '13a'
// (mteval-v13a) or 'zh' (CJK characters split, then 13a), mixed case, n-grams
// 1..4, brevity penalty against the closest reference length (ties to the
// shorter), 'exp' smoothing (the mteval-v13a rule: the k-th zero precision
// becomes 1 / (2^k · total)), and 0 when no n-gram matches at all. Scores are 0..100. Checked against the values
// printed in sacreBLEU's README.

export type BleuTokenizer = '13a' | 'zh' | 'none';

const PUNCT_13A: ReadonlyArray<[RegExp, string]> = [
  [/([{-~[-` -&(-+:-@/])/g, ' $1 '],  // split off punctuation and symbols
  [/([^0-9])([.,])/g, '$1 $2 '],        // period and comma unless preceded by a digit
  [/([.,])([^0-9])/g, ' $1 $2'],        // ... unless followed by a digit
  [/([0-9])(-)/g, '$1 $2 '],            // a dash after a digit
];

function regexpTokenize(line: string): string {
  for (const [re, repl] of PUNCT_13A) line = line.replace(re, repl);
  return line.split(/\s+/).filter(Boolean).join(' ');
}

/** mteval-v13a tokenisation. */
export function tokenize13a(line: string): string {
  line = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) line = line.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  return regexpTokenize(` ${line} `);
}

// sacreBLEU's table of "Chinese" ranges. Two of its entries were written as
// '\u20000'..'\u2a6d6' and '\u2f800'..'\u2fa1d', which Python reads as
// two-character strings; compared with one character they mean U+2001..U+2A6D
// and U+2F81..U+2FA1. We keep that behaviour, since scores must match.
const ZH_RANGES: ReadonlyArray<[number, number]> = [
  [0x3400, 0x4db5], [0x4e00, 0x9fa5], [0x9fa6, 0x9fbb], [0xf900, 0xfa2d], [0xfa30, 0xfa6a], [0xfa70, 0xfad9],
  [0x2001, 0x2a6d], [0x2f81, 0x2fa1], [0xff00, 0xffef], [0x2e80, 0x2eff], [0x3000, 0x303f], [0x31c0, 0x31ef],
  [0x2f00, 0x2fdf], [0x2ff0, 0x2fff], [0x3100, 0x312f], [0x31a0, 0x31bf], [0xfe10, 0xfe1f], [0xfe30, 0xfe4f],
  [0x2600, 0x26ff], [0x2700, 0x27bf], [0x3200, 0x32ff], [0x3300, 0x33ff],
];

function isZhChar(cp: number): boolean {
  return ZH_RANGES.some(([a, b]) => cp >= a && cp <= b);
}

/** sacreBLEU's 'zh' tokeniser: spaces around each CJK character, then the 13a regexps. */
export function tokenizeZh(line: string): string {
  let out = '';
  for (const ch of line.trim()) out += isZhChar(ch.codePointAt(0)!) ? ` ${ch} ` : ch;
  return regexpTokenize(out);
}

export function tokenizeFor(tok: BleuTokenizer): (s: string) => string {
  return tok === '13a' ? tokenize13a : tok === 'zh' ? tokenizeZh : (s) => s;
}

export interface BleuScore {
  score: number;
  /** n-gram precisions (percent, after smoothing). */
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
  signature: string;
}

function ngramCounts(words: string[], maxN: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let n = 1; n <= maxN; n++)
    for (let i = 0; i + n <= words.length; i++) {
      const g = n + '\u0001' + words.slice(i, i + n).join('\u0001');
      m.set(g, (m.get(g) ?? 0) + 1);
    }
  return m;
}

/**
 * Corpus BLEU. `refs[r][i]` is reference r of hypothesis i (sacreBLEU's layout);
 * an empty or missing reference is skipped, so rows may have different counts.
 */
export function corpusBleu(hyps: readonly string[], refs: ReadonlyArray<ReadonlyArray<string | null | undefined>>, tokenizer: BleuTokenizer = '13a'): BleuScore {
  const N = 4;
  const tok = tokenizeFor(tokenizer);
  for (const r of refs) if (r.length !== hyps.length) throw new RangeError(`bleu: a reference stream has ${r.length} lines, the hypotheses ${hyps.length}`);
  const correct = new Array<number>(N).fill(0);
  const total = new Array<number>(N).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hyps.forEach((hyp, i) => {
    const h = tok(hyp).split(' ').filter(Boolean);
    const rs = refs.map((r) => r[i]).filter((r): r is string => !!r).map((r) => tok(r).split(' ').filter(Boolean));
    if (!rs.length) throw new RangeError(`bleu: hypothesis ${i} has no reference`);
    let closest = rs[0]!.length;
    for (const r of rs) {
      const d = Math.abs(r.length - h.length), dc = Math.abs(closest - h.length);
      if (d < dc || (d === dc && r.length < closest)) closest = r.length;
    }
    sysLen += h.length;
    refLen += closest;
    const maxRef = new Map<string, number>();
    for (const r of rs) for (const [g, c] of ngramCounts(r, N)) if ((maxRef.get(g) ?? 0) < c) maxRef.set(g, c);
    for (const [g, c] of ngramCounts(h, N)) {
      const n = Number(g.slice(0, g.indexOf('\u0001')));
      correct[n - 1]! += Math.min(c, maxRef.get(g) ?? 0);
    }
    for (let n = 1; n <= N; n++) total[n - 1]! += Math.max(0, h.length - n + 1);
  });
  const precisions = new Array<number>(N).fill(0);
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const nrefs = refs.every((r) => r.every(Boolean)) ? String(refs.length) : 'var';
  const signature = `nrefs:${nrefs}|case:mixed|eff:no|tok:${tokenizer}|smooth:exp|version:2.0.0-compatible`;
  // sacreBLEU stops early with 0 when nothing matches at all (its issue #141), rather than smoothing
  if (!correct.some((c) => c > 0)) return { score: 0, precisions, bp, sysLen, refLen, signature };
  let smooth = 1;
  for (let n = 0; n < N; n++) {
    if (total[n] === 0) break;
    if (correct[n] === 0) { smooth *= 2; precisions[n] = 100 / (smooth * total[n]!); }
    else precisions[n] = (100 * correct[n]!) / total[n]!;
  }
  const logSum = precisions.reduce((s, p) => s + (p > 0 ? Math.log(p) : -9999999999), 0);
  const score = sysLen === 0 ? 0 : bp * Math.exp(logSum / N);
  return { score, precisions, bp, sysLen, refLen, signature };
}
