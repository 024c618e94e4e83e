// Heuristic document filters (the paper's "heuristic filtering" stage). Each
// rule has a name, a threshold from the config, and is checked in a fixed
// order; a document is removed by the first rule it fails, and that rule is
// counted. Rules follow the Gopher/RefinedWeb heuristics, adapted so Chinese
// counts per character (a CJK character is a "word").
import { isCjk, isSpace, isWordChar } from './text.js';

export interface FilterConfig {
  min_chars: number;
  max_chars: number;
  /** Letters, CJK characters and digits over all non-space characters. */
  min_word_char_ratio: number;
  max_digit_ratio: number;
  /** Fraction of lines that repeat an earlier line of the document. */
  max_dup_line_fraction: number;
  /** Characters in the most frequent word n-gram over all word characters, for n = 2, 3, 4. */
  max_top_ngram_fraction: { 2: number; 3: number; 4: number };
  /** Characters in word 5-grams that occur more than once, over all word characters. */
  max_dup_5gram_fraction: number;
  max_ellipsis_line_fraction: number;
  /** Case-insensitive phrases of web boilerplate; a document with this many or more different ones is removed. */
  boilerplate_markers: string[];
  max_boilerplate_hits: number;
  /** Sources (regular expression) exempt from the character-class and n-gram rules, e.g. code. */
  exempt_sources: string | null;
}

export const DEFAULT_FILTERS: FilterConfig = {
  min_chars: 50,
  max_chars: 2_000_000,
  min_word_char_ratio: 0.6,
  max_digit_ratio: 0.3,
  max_dup_line_fraction: 0.3,
  max_top_ngram_fraction: { 2: 0.2, 3: 0.18, 4: 0.16 },
  max_dup_5gram_fraction: 0.15,
  max_ellipsis_line_fraction: 0.3,
  boilerplate_markers: ['lorem ipsum', 'javascript is disabled', 'enable javascript', 'cookie policy', 'accept cookies', 'all rights reserved', 'terms of use', 'privacy policy', '版权所有', '免责声明', '点击这里', '请登录', '上一篇', '下一篇'],
  max_boilerplate_hits: 3,
  exempt_sources: null,
};

export const RULES = ['min_chars', 'max_chars', 'word_char_ratio', 'digit_ratio', 'dup_lines', 'top_2gram', 'top_3gram', 'top_4gram', 'dup_5gram', 'ellipsis_lines', 'boilerplate'] as const;
export type RuleName = (typeof RULES)[number];

/** Words: runs of non-space, non-CJK characters, and single CJK characters. */
export function words(text: string): string[] {
  return text.match(/\p{Script=Han}|[^\s\p{Script=Han}]+/gu) ?? [];
}

/** Word ids (per document) and each word's length. */
function wordIds(ws: string[]): Int32Array {
  const ids = new Map<string, number>();
  return Int32Array.from(ws, (w) => { let id = ids.get(w); if (id === undefined) ids.set(w, (id = ids.size)); return id; });
}

/** A 52-bit key for the n-gram starting at i (two 32-bit multiplicative hashes; collisions are negligible for counting). */
function ngramKey(ids: Int32Array, i: number, n: number): number {
  let h1 = 0x811c9dc5, h2 = 0x01000193;
  for (let j = 0; j < n; j++) {
    h1 = Math.imul(h1 ^ ids[i + j]!, 0x01000193);
    h2 = Math.imul(h2 ^ (ids[i + j]! + 0x9e3779b9), 0x85ebca6b) ^ (h2 >>> 15);
  }
  return (h1 & 0xfffff) * 4294967296 + (h2 >>> 0);
}

function topNgramFraction(ws: string[], ids: Int32Array, n: number, totalChars: number): number {
  if (ws.length < n || totalChars === 0) return 0;
  const counts = new Map<number, number>();
  let best = 0, bestAt = 0;
  for (let i = 0; i + n <= ws.length; i++) {
    const k = ngramKey(ids, i, n);
    const c = (counts.get(k) ?? 0) + 1;
    counts.set(k, c);
    if (c > best) { best = c; bestAt = i; }
  }
  if (best < 2) return 0;
  let chars = 0;
  for (let j = 0; j < n; j++) chars += ws[bestAt + j]!.length;
  return (best * chars) / totalChars;
}

function dupNgramFraction(ws: string[], ids: Int32Array, n: number, totalChars: number): number {
  if (ws.length < n || totalChars === 0) return 0;
  const seen = new Map<number, number>();
  const covered = new Uint8Array(ws.length);
  for (let i = 0; i + n <= ws.length; i++) {
    const k = ngramKey(ids, i, n);
    const first = seen.get(k);
    if (first === undefined) { seen.set(k, i); continue; }
    for (let j = 0; j < n; j++) { covered[i + j] = 1; covered[first + j] = 1; }
  }
  let chars = 0;
  covered.forEach((c, i) => { if (c) chars += ws[i]!.length; });
  return chars / totalChars;
}

/** The first rule the document fails, or null when it passes. */
export function firstFailedRule(text: string, source: string, c: FilterConfig): RuleName | null {
  const n = text.length;
  if (n < c.min_chars) return 'min_chars';
  if (n > c.max_chars) return 'max_chars';
  const exempt = c.exempt_sources !== null && new RegExp(c.exempt_sources).test(source);
  if (!exempt) {
    let nonSpace = 0, wordChars = 0, digits = 0;
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (isSpace(cp)) continue;
      nonSpace++;
      if (isWordChar(cp) || isCjk(cp)) wordChars++;
      if (cp >= 0x30 && cp <= 0x39) digits++;
    }
    if (nonSpace > 0 && wordChars / nonSpace < c.min_word_char_ratio) return 'word_char_ratio';
    if (nonSpace > 0 && digits / nonSpace > c.max_digit_ratio) return 'digit_ratio';
  }
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length > 1) {
    const seen = new Set<string>();
    let dup = 0;
    for (const l of lines) { if (seen.has(l)) dup++; else seen.add(l); }
    if (dup / lines.length > c.max_dup_line_fraction) return 'dup_lines';
  }
  if (!exempt) {
    const ws = words(text);
    const ids = wordIds(ws);
    const total = ws.reduce((s, w) => s + w.length, 0);
    for (const k of [2, 3, 4] as const) if (topNgramFraction(ws, ids, k, total) > c.max_top_ngram_fraction[k]) return `top_${k}gram` as RuleName;
    if (dupNgramFraction(ws, ids, 5, total) > c.max_dup_5gram_fraction) return 'dup_5gram';
  }
  if (lines.length > 0 && lines.filter((l) => l.endsWith('...') || l.endsWith('…')).length / lines.length > c.max_ellipsis_line_fraction) return 'ellipsis_lines';
  const lower = text.toLowerCase();
  if (c.boilerplate_markers.filter((m) => lower.includes(m.toLowerCase())).length >= c.max_boilerplate_hits) return 'boilerplate';
  return null;
}
