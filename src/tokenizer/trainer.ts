// BPE tokenizer training with Baichuan 2's settings (SPEC §3), producing a
// genuine SentencePiece model file: identity normalisation (' ' -> U+2581),
// no dummy prefix, byte fallback, every digit its own piece, whitespace-only
// pieces allowed (code indentation), pieces never mixing Unicode scripts,
// a maximum piece length, and character coverage (rarer characters are left
// to byte fallback). Words are split as SentencePiece's trainer does
// (SplitIntoWords with allow_whitespace_only_pieces); merges are the most
// frequent valid adjacent pair, exactly counted (no sampling).
// Piece layout: 0 <unk>, 1 <s>, 2 </s>, 3.. user-defined symbols (with
// <reserved_106> = 195 and <reserved_107> = 196, Baichuan 2's user and
// assistant tokens), 256 byte pieces, merged pieces (score -rank), then the
// single characters by frequency.
import { PieceType, TRAINER_FIELDS, type Piece, type SpModel } from './sentencepiece-model.js';
import type { PbField } from './protobuf.js';
import { BinaryHeap } from './heap.js';

export interface TrainOptions {
  vocabSize: number;
  characterCoverage?: number;   // 0.9999
  maxPieceLength?: number;      // 32 in the paper; 16 suits small vocabularies
  /** Extra user-defined symbols (always single tokens, never merged). */
  userDefinedSymbols?: string[];
  onProgress?: (merges: number, total: number) => void;
}

export interface TrainReport { seconds: number; merges: number; characters: number; words: number; sentences: number }

const SPACE = '\u2581';
export const USER_TOKEN_ID = 195;
export const ASSISTANT_TOKEN_ID = 196;

/** Ids 3..200: <SEP>, <CLS>, "\n", "\t", then reserved pieces named so that 195 = <reserved_106>. */
export function baichuanUserSymbols(extra: string[] = []): string[] {
  const out = ['<SEP>', '<CLS>', '\n', '\t'];
  for (let id = 3 + out.length; id <= 200; id++) out.push(id >= 101 ? `<reserved_${id - 89}>` : `<unused_${id}>`);
  for (const s of extra) if (!out.includes(s)) out.push(s);
  return out;
}

const SCRIPTS: [string, RegExp][] = [
  ['Han', /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\u30fc]/u],
  ['Latin', /\p{Script=Latin}/u], ['Cyrillic', /\p{Script=Cyrillic}/u], ['Greek', /\p{Script=Greek}/u],
  ['Arabic', /\p{Script=Arabic}/u], ['Hangul', /\p{Script=Hangul}/u], ['Hebrew', /\p{Script=Hebrew}/u],
  ['Thai', /\p{Script=Thai}/u], ['Devanagari', /\p{Script=Devanagari}/u],
];

const scriptCache = new Map<number, number>();
/** A coarse Unicode script class (the rule that keeps pieces single-script). */
function scriptOf(cp: number): number {
  let s = scriptCache.get(cp);
  if (s === undefined) {
    const ch = String.fromCodePoint(cp);
    s = SCRIPTS.findIndex(([, re]) => re.test(ch));
    scriptCache.set(cp, s);
  }
  return s;
}

const isDigit = (cp: number): boolean => cp >= 0x30 && cp <= 0x39;

/** SentencePiece's IsValidSentencePiece for our settings. */
function validPiece(cps: number[], maxLen: number): boolean {
  if (cps.length === 0 || cps.length > maxLen) return false;
  const ws = 0x2581;
  const allWs = cps.every((c) => c === ws);
  let prev = -2;
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    if (c === ws) {
      if (!allWs && i > 0) return false;  // whitespace only as a prefix (or a whitespace-only piece)
      continue;
    }
    if (isDigit(c) && cps.length > 1) return false;  // split_digits
    const s = scriptOf(c);
    if (prev !== -2 && s !== prev) return false;
    prev = s;
  }
  return true;
}

/** SplitIntoWords(treat_ws_as_suffix=false, allow_ws_only_pieces=true). */
function splitWords(s: string): string[] {
  const out: string[] = [];
  let inWs = false;
  let cur = '';
  for (const ch of s) {
    const isWs = ch === SPACE;
    if (cur === '' && out.length === 0) { cur = ch; inWs = isWs; continue; }
    if (isWs && !inWs) { out.push(cur); cur = ''; inWs = true; }
    if (inWs && !isWs) inWs = false;
    cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** Train a BPE model on texts. Returns the model and a short report. */
export function trainBpe(texts: Iterable<string>, o: TrainOptions): { model: SpModel; report: TrainReport } {
  const t0 = performance.now();
  const coverage = o.characterCoverage ?? 0.9999;
  const maxLen = o.maxPieceLength ?? 16;
  const userSymbols = baichuanUserSymbols(o.userDefinedSymbols);
  const metaCount = 3 + userSymbols.length + 256;
  if (o.vocabSize <= metaCount + 10) throw new RangeError(`train-tokenizer: vocab size ${o.vocabSize} is too small: ${metaCount} ids are taken by special, user-defined and byte pieces`);
  const splitter = new RegExp(userSymbols.map((u) => u.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).sort((a, b) => b.length - a.length).join('|'), 'g');
  // 1. word counts and character counts
  const wordCounts = new Map<string, number>();
  const charCounts = new Map<number, number>();
  let sentences = 0;
  for (const text of texts) {
    for (const part of text.split(splitter)) {
      if (!part) continue;
      sentences++;
      const s = part.replaceAll(' ', SPACE);
      for (const w of splitWords(s)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
  }
  for (const [w, c] of wordCounts) for (const ch of w) { const cp = ch.codePointAt(0)!; charCounts.set(cp, (charCounts.get(cp) ?? 0) + c); }
  // 2. required characters by coverage
  const chars = [...charCounts].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const totalChars = chars.reduce((s, [, c]) => s + c, 0);
  const required: number[] = [];
  let acc = 0;
  for (const [cp, c] of chars) {
    if (totalChars > 0 && acc / totalChars >= coverage) break;
    required.push(cp);
    acc += c;
  }
  const numMerges = o.vocabSize - metaCount - required.length;
  if (numMerges < 0) throw new RangeError(`train-tokenizer: character coverage ${coverage} needs ${required.length} characters, more than the ${o.vocabSize - metaCount} free ids; raise the vocab size or lower the coverage`);
  // 3. symbols: ids 0..C-1 are characters, later ids are merges; -1 = rare character (blocks merges)
  const symCps: number[][] = required.map((cp) => [cp]);
  const charId = new Map(required.map((cp, i) => [cp, i]));
  const words: Int32Array[] = [];
  const freq: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push(Int32Array.from([...w], (ch) => charId.get(ch.codePointAt(0)!) ?? -1));
    freq.push(c);
  }
  // pair statistics with a lazy max-heap
  const K = 1 << 21;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const validCache = new Map<number, boolean>();
  const isValid = (a: number, b: number, key: number): boolean => {
    let v = validCache.get(key);
    if (v === undefined) { v = validPiece(symCps[a]!.concat(symCps[b]!), maxLen); validCache.set(key, v); }
    return v;
  };
  // most frequent pair first; ties: the smaller key (deterministic)
  const heap = new BinaryHeap<[number, number]>((x, y) => x[0] > y[0] || (x[0] === y[0] && x[1] < y[1]));  // [count, key]
  const touched = new Set<number>();
  const addPair = (a: number, b: number, wi: number, delta: number) => {
    if (a < 0 || b < 0) return;
    const key = a * K + b;
    if (!isValid(a, b, key)) return;
    pairCount.set(key, (pairCount.get(key) ?? 0) + delta);
    if (delta > 0) {
      let set = pairWords.get(key);
      if (!set) pairWords.set(key, (set = new Set()));
      set.add(wi);
    }
    touched.add(key);
  };
  words.forEach((w, wi) => { for (let i = 1; i < w.length; i++) addPair(w[i - 1]!, w[i]!, wi, freq[wi]!); });
  for (const k of touched) heap.push([pairCount.get(k)!, k]);
  touched.clear();
  // 4. merges
  const merged: number[] = [];
  while (merged.length < numMerges && heap.size) {
    const [c, key] = heap.pop();
    if (pairCount.get(key) !== c || c <= 0) continue;  // stale heap entry
    const a = Math.floor(key / K), b = key % K;
    const id = symCps.length;
    symCps.push(symCps[a]!.concat(symCps[b]!));
    merged.push(id);
    for (const wi of pairWords.get(key) ?? []) {
      const w = words[wi]!, f = freq[wi]!;
      let hit = false;
      for (let i = 1; i < w.length && !hit; i++) hit = w[i - 1] === a && w[i] === b;
      if (!hit) continue;  // a stale index entry
      // take the word's pairs out, merge left to right, put the new pairs in
      for (let i = 1; i < w.length; i++) addPair(w[i - 1]!, w[i]!, wi, -f);
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) { out.push(id); i++; }
        else out.push(w[i]!);
      }
      for (let i = 1; i < out.length; i++) addPair(out[i - 1]!, out[i]!, wi, f);
      words[wi] = Int32Array.from(out);
    }
    pairWords.delete(key);
    for (const k of touched) { const v = pairCount.get(k)!; if (v > 0) heap.push([v, k]); }
    touched.clear();
    if (o.onProgress && merged.length % 100 === 0) o.onProgress(merged.length, numMerges);
  }
  if (merged.length < numMerges)
    throw new RangeError(`train-tokenizer: the text supports only ${metaCount + merged.length + required.length} pieces (every word is fully merged), fewer than the requested vocab size ${o.vocabSize}; use a smaller vocab or more text`);
  // 5. the model
  const str = (cps: number[]) => String.fromCodePoint(...cps);
  const pieces: Piece[] = [
    { piece: '<unk>', score: 0, type: PieceType.UNKNOWN },
    { piece: '<s>', score: 0, type: PieceType.CONTROL },
    { piece: '</s>', score: 0, type: PieceType.CONTROL },
    ...userSymbols.map((u) => ({ piece: u, score: 0, type: PieceType.USER_DEFINED })),
    ...Array.from({ length: 256 }, (_, b) => ({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, score: 0, type: PieceType.BYTE })),
  ];
  const seen = new Set(pieces.map((p) => p.piece));
  let rank = 0;
  for (const id of merged) {
    const p = str(symCps[id]!);
    if (seen.has(p)) continue;  // the same string reached by two merge paths keeps its first rank
    seen.add(p);
    pieces.push({ piece: p, score: -rank++, type: PieceType.NORMAL });
  }
  for (const cp of required) {
    const p = String.fromCodePoint(cp);
    if (seen.has(p)) continue;
    seen.add(p);
    pieces.push({ piece: p, score: -rank++, type: PieceType.NORMAL });
  }
  const F = TRAINER_FIELDS;
  const enc = new TextEncoder();
  const spec: PbField[] = [
    { no: F.modelType, wire: 0, value: 2 },
    { no: F.vocabSize, wire: 0, value: pieces.length },
    { no: F.characterCoverage, wire: 5, value: f32Bytes(coverage) },
    { no: F.maxSentencepieceLength, wire: 0, value: maxLen },
    { no: F.splitDigits, wire: 0, value: 1 },
    { no: F.allowWhitespaceOnlyPieces, wire: 0, value: 1 },
    ...userSymbols.map((u) => ({ no: F.userDefinedSymbols, wire: 2 as const, value: enc.encode(u) })),
    { no: F.byteFallback, wire: 0, value: 1 },
    { no: F.unkId, wire: 0, value: 0 },
    { no: F.bosId, wire: 0, value: 1 },
    { no: F.eosId, wire: 0, value: 2 },
    { no: F.padId, wire: 0, value: -1 },
  ];
  const model: SpModel = {
    pieces,
    trainerSpec: spec,
    normalizer: { name: 'identity', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: false, removeExtraWhitespaces: false, escapeWhitespaces: true },
    otherFields: [],
  };
  return { model, report: { seconds: (performance.now() - t0) / 1000, merges: merged.length, characters: required.length, words: wordCounts.size, sentences } };
}

function f32Bytes(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return b;
}
