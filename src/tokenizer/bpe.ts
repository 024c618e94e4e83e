// SentencePiece-compatible BPE encoding and decoding (bpe_model.cc and
// sentencepiece_processor.cc of SentencePiece 0.1.97):
//  1. normalise (identity rules: escape ' ' as U+2581; optional dummy prefix,
//     extra-whitespace removal);
//  2. split into characters, cutting user-defined symbols out first (longest
//     match; they never merge);
//  3. repeatedly merge the adjacent pair whose concatenation is a piece with
//     the highest score; ties go to the leftmost pair (SentencePiece compares
//     positions, never ids — the real Baichuan 2 file has 25,728 repeated scores);
//  4. unknown symbols fall back to their UTF-8 bytes (<0xXX> pieces).
import { PieceType, byteFallback, modelType, unkSurface, type SpModel } from './sentencepiece-model.js';
import { MergeTable } from './merge-table.js';
import { BinaryHeap } from './heap.js';

const SPACE = '\u2581';
const utf8Encoder = new TextEncoder();

function isLowSurrogate(c: number): boolean {
  return (c & 0xfc00) === 0xdc00;
}

interface Pair { score: number; left: number; right: number; size: number; id: number }

export interface Encoded { ids: number[]; pieces: string[] }

export class BpeTokenizer {
  readonly pieces: string[];
  readonly scores: Float32Array;
  readonly types: Uint8Array;
  /** NORMAL, USER_DEFINED and UNUSED pieces: what text can be matched against. */
  private readonly vocab = new Map<string, number>();
  /** CONTROL, UNKNOWN and BYTE pieces (looked up first, as SentencePiece's PieceToId). */
  private readonly reserved = new Map<string, number>();
  /** For each first UTF-16 unit of a user-defined symbol: the symbols' distinct lengths, longest first. */
  private readonly userLengths = new Map<number, number[]>();
  private readonly userSet = new Set<string>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  readonly unkId: number;
  readonly byteFallback: boolean;
  private readonly unkText: string;
  /**
   * Every pair of adjacent code points that occurs inside some piece. Where a
   * text's neighbouring characters form no such pair, no merge can ever span
   * that boundary, so BPE runs on the pieces between such boundaries
   * independently (with the same result: merges in one segment never change
   * the candidates of another, and within a segment the order is unchanged).
   */
  private readonly bigrams = new Set<number>();
  /** (left id, right id) -> id of their concatenation, for every split of every piece. */
  private readonly merges: MergeTable;
  /** Whether some matchable piece is also a reserved piece (then ids must go through pieceToId). */
  private readonly shadowed: boolean;

  constructor(readonly model: SpModel) {
    if (modelType(model) !== 'BPE') throw new Error(`tokenizer: model type ${modelType(model)} is not supported (only BPE, as Baichuan 2)`);
    const n = model.normalizer;
    if (n.precompiledCharsmap.length) throw new Error(`tokenizer: normaliser '${n.name}' uses a precompiled character map, which is not supported (Baichuan 2 uses 'identity')`);
    this.pieces = model.pieces.map((p) => p.piece);
    this.scores = Float32Array.from(model.pieces, (p) => p.score);
    this.types = Uint8Array.from(model.pieces, (p) => p.type);
    let unk = -1;
    model.pieces.forEach((p, id) => {
      const normal = p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED || p.type === PieceType.UNUSED;
      const map = normal ? this.vocab : this.reserved;
      if (map.has(p.piece)) throw new Error(`tokenizer: piece '${p.piece}' (id ${id}) is defined twice`);
      map.set(p.piece, id);
      if (p.type === PieceType.UNKNOWN) unk = id;
      if (p.type === PieceType.USER_DEFINED) {
        const k = p.piece.charCodeAt(0);
        const lens = this.userLengths.get(k) ?? [];
        if (!lens.includes(p.piece.length)) lens.push(p.piece.length);
        this.userLengths.set(k, lens);
        this.userSet.add(p.piece);
      }
      if (p.type === PieceType.BYTE) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p.piece);
        if (!m) throw new Error(`tokenizer: byte piece '${p.piece}' is malformed`);
        this.byteIds[parseInt(m[1]!, 16)] = id;
      }
    });
    for (const lens of this.userLengths.values()) lens.sort((a, b) => b - a);
    this.merges = new MergeTable(this.vocab.size * 4);
    for (const [piece, id] of this.vocab) {
      let prevCp = -1;
      for (let i = 0; i < piece.length;) {
        const cp = piece.codePointAt(i)!;
        if (prevCp >= 0) {
          this.bigrams.add(prevCp * 0x110000 + cp);
          const a = this.vocab.get(piece.slice(0, i)), b = this.vocab.get(piece.slice(i));
          if (a !== undefined && b !== undefined) this.merges.set(a, b, id);
        }
        prevCp = cp;
        i += cp > 0xffff ? 2 : 1;
      }
    }
    this.shadowed = [...this.vocab.keys()].some((p) => this.reserved.has(p));
    if (unk < 0) throw new Error('tokenizer: the model has no <unk> piece');
    this.unkId = unk;
    this.byteFallback = byteFallback(model);
    if (this.byteFallback && this.byteIds.some((v) => v < 0)) throw new Error('tokenizer: byte_fallback is on but not all 256 byte pieces exist');
    this.unkText = unkSurface(model);
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  pieceToId(piece: string): number {
    return this.reserved.get(piece) ?? this.vocab.get(piece) ?? this.unkId;
  }

  normalize(text: string): string {
    const n = this.model.normalizer;
    let t = text;
    if (n.removeExtraWhitespaces) t = t.replace(/ +/g, ' ').replace(/^ | $/g, '');
    if (n.addDummyPrefix && t.length) t = ' ' + t;
    if (n.escapeWhitespaces) t = t.replaceAll(' ', SPACE);
    return t;
  }

  encode(text: string): number[] {
    return this.encodeWithPieces(text).ids;
  }

  encodeWithPieces(text: string): Encoded {
    const s = this.normalize(text);
    const n = s.length;
    // initial symbols: user-defined symbols (frozen) or single code points
    const start: number[] = [], end: number[] = [], freeze: boolean[] = [];
    for (let i = 0; i < n;) {
      let len = 0, frozen = false;
      const lens = this.userLengths.get(s.charCodeAt(i));
      if (lens) for (const L of lens) if (i + L <= n && this.userSet.has(s.slice(i, i + L))) { len = L; frozen = true; break; }
      if (!len) {
        const c = s.charCodeAt(i);
        len = c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      }
      start.push(i);
      end.push(i + len);
      freeze.push(frozen);
      i += len;
    }
    const m = start.length;
    const prev = new Int32Array(m), next = new Int32Array(m), symId = new Int32Array(m);
    for (let i = 0; i < m; i++) symId[i] = this.vocab.get(s.slice(start[i]!, end[i]!)) ?? -1;
    const revMerge = new Map<string, [string, string]>();
    // BPE within one segment [a, b) of symbols (see `bigrams`)
    const runSegment = (a: number, b: number): void => {
      for (let i = a; i < b; i++) { prev[i] = i - 1; next[i] = i + 1 < b ? i + 1 : -1; }
      if (b - a < 2) return;
      // highest score first; equal scores: the leftmost pair (SentencePiece's rule)
      const agenda = new BinaryHeap<Pair>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
      const addPair = (l: number, r: number): void => {
        if (l < 0 || r < 0 || freeze[l] || freeze[r]) return;
        const a = symId[l]!, b = symId[r]!;
        // symbols not in the vocabulary (rare characters) take the string path
        const id = a >= 0 && b >= 0 ? this.merges.get(a, b) : this.vocab.get(s.slice(start[l]!, end[r]!)) ?? -1;
        if (id < 0) return;
        agenda.push({ score: this.scores[id]!, left: l, right: r, size: end[r]! - start[l]!, id });
        if (this.types[id] === PieceType.UNUSED) revMerge.set(s.slice(start[l]!, end[r]!), [s.slice(start[l]!, end[l]!), s.slice(start[r]!, end[r]!)]);
      };
      for (let i = a + 1; i < b; i++) addPair(i - 1, i);
      while (agenda.size) {
        const top = agenda.pop();
        const l = top.left, r = top.right;
        // stale: a side was merged away or changed since the pair was queued
        if (end[l] === start[l] || end[r] === start[r] || end[r]! - start[l]! !== top.size || next[l] !== r) continue;
        end[l] = end[r]!;
        symId[l] = top.id;
        next[l] = next[r]!;
        if (next[r]! >= 0) prev[next[r]!] = l;
        start[r] = end[r]!;  // empty
        addPair(prev[l]!, l);
        addPair(l, next[l]!);
      }
    };
    let segStart = 0;
    for (let k = 1; k < m; k++) {
      const cut = freeze[k - 1] || freeze[k] || !this.bigrams.has(s.codePointAt(end[k - 1]! - 1 - (isLowSurrogate(s.charCodeAt(end[k - 1]! - 1)) ? 1 : 0))! * 0x110000 + s.codePointAt(start[k]!)!);
      if (cut) { runSegment(segStart, k); segStart = k; }
    }
    if (m > 0) runSegment(segStart, m);
    const ids: number[] = [], pieces: string[] = [];
    const emit = (w: string, known = -1): void => {
      const id = known >= 0 && !this.shadowed ? known : this.pieceToId(w);
      if (id !== this.unkId && this.types[id] === PieceType.UNUSED) {
        const split = revMerge.get(w);
        if (split) { emit(split[0]); emit(split[1]); return; }
      }
      if (id === this.unkId && this.byteFallback) {
        for (const b of utf8Encoder.encode(w)) {
          ids.push(this.byteIds[b]!);
          pieces.push(this.pieces[this.byteIds[b]!]!);
        }
        return;
      }
      ids.push(id);
      pieces.push(w);
    };
    for (let i = 0; i < m; i++) if (end[i] !== start[i]) emit(s.slice(start[i]!, end[i]!), symId[i]!);
    return { ids, pieces };
  }

  /** SentencePiece decoding: control pieces vanish, <unk> shows as ' ⁇ ', byte runs decode as UTF-8 (U+FFFD per bad byte). */
  decode(ids: readonly number[]): string {
    let out = '';
    let bytes: number[] = [];
    const flush = () => { if (bytes.length) { out += decodeUtf8Lenient(bytes); bytes = []; } };
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.pieces.length) throw new RangeError(`decode: id ${id} is outside the vocabulary [0, ${this.pieces.length})`);
      const t = this.types[id]!;
      if (t === PieceType.BYTE) {
        bytes.push(parseInt(this.pieces[id]!.slice(3, 5), 16));
        return;
      }
      flush();
      if (t === PieceType.CONTROL) return;
      if (t === PieceType.UNKNOWN) { out += this.unkText; return; }
      let piece = this.pieces[id]!;
      if (i === 0 && this.model.normalizer.addDummyPrefix && piece.startsWith(SPACE)) piece = piece.slice(1);
      out += piece.replaceAll(SPACE, ' ');
    });
    flush();
    return out;
  }
}

/** UTF-8 decoding that, like SentencePiece, replaces each byte of an invalid sequence with U+FFFD. */
export function decodeUtf8Lenient(b: number[]): string {
  let s = '';
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    let len = 0, cp = 0, min = 0;
    if (c < 0x80) { len = 1; cp = c; }
    else if ((c & 0xe0) === 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) === 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) === 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
    let ok = len > 0 && i + len <= b.length;
    for (let k = 1; ok && k < len; k++) {
      const x = b[i + k]!;
      if ((x & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (x & 0x3f);
    }
    if (ok && len > 1 && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (!ok) { s += '\ufffd'; i++; continue; }
    s += String.fromCodePoint(cp);
    i += len;
  }
  return s;
}
