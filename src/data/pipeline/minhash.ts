// MinHash signatures and LSH banding for document-level near-duplicate
// detection. Shingles are runs of `shingle` consecutive words (a CJK
// character is a word) of the normalised text, hashed to 32 bits; the i-th
// permutation is x -> (a_i x + b_i) mod 2^32 with odd a_i (a bijection of
// 32-bit integers), and the signature keeps each permutation's minimum.
// Bands of `rows` values hash to one bucket key; two documents sharing a
// bucket in any band are candidates, verified by the exact Jaccard similarity
// of their shingle sets. P(candidate | J) = 1 - (1 - J^rows)^bands.
import { Rng } from '../../engine/rng.js';
import { murmur32, normalizeForHash } from './text.js';
import { words } from './filters.js';

export interface MinHashConfig {
  /** Words per shingle. */
  shingle: number;
  permutations: number;
  bands: number;
  rows: number;
  /** Jaccard similarity at or above which two documents are duplicates. */
  threshold: number;
  seed: number;
}

export const DEFAULT_MINHASH: MinHashConfig = { shingle: 5, permutations: 128, bands: 32, rows: 4, threshold: 0.8, seed: 1 };

export function checkMinHash(c: MinHashConfig): void {
  if (c.bands * c.rows > c.permutations) throw new Error(`minhash: bands × rows = ${c.bands * c.rows} exceeds the ${c.permutations} permutations`);
  if (!(c.threshold > 0 && c.threshold <= 1)) throw new Error(`minhash: threshold must be in (0, 1], got ${c.threshold}`);
  if (!(Number.isInteger(c.shingle) && c.shingle >= 1)) throw new Error(`minhash: shingle must be a positive integer, got ${c.shingle}`);
}

/** Probability that a pair of similarity j becomes a candidate. */
export function candidateProbability(j: number, c: Pick<MinHashConfig, 'bands' | 'rows'>): number {
  return 1 - (1 - j ** c.rows) ** c.bands;
}

/** Sorted, unique 32-bit shingle hashes of a text. */
export function shingleSet(text: string, shingle: number): Uint32Array {
  const ws = words(normalizeForHash(text));
  const n = Math.max(1, ws.length - shingle + 1);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = murmur32(ws.slice(i, i + shingle).join(' '), 0x9747b28c);
  out.sort();
  let k = 0;
  for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[i - 1]) out[k++] = out[i]!;
  return out.slice(0, k);
}

export function jaccard(a: Uint32Array, b: Uint32Array): number {
  let i = 0, j = 0, inter = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) { inter++; i++; j++; } else if (a[i]! < b[j]!) i++; else j++;
  }
  const union = a.length + b.length - inter;
  return union === 0 ? 1 : inter / union;
}

export class MinHasher {
  private readonly a: Uint32Array;
  private readonly b: Uint32Array;
  constructor(readonly c: MinHashConfig) {
    checkMinHash(c);
    const rng = new Rng(c.seed);
    this.a = Uint32Array.from({ length: c.permutations }, () => ((rng.nextU32() | 1) >>> 0));
    this.b = Uint32Array.from({ length: c.permutations }, () => rng.nextU32());
  }

  signature(shingles: Uint32Array): Uint32Array {
    const P = this.c.permutations;
    const sig = new Uint32Array(P).fill(0xffffffff);
    const a = this.a, b = this.b;
    for (let s = 0; s < shingles.length; s++) {
      const x = shingles[s]!;
      for (let i = 0; i < P; i++) {
        const v = (Math.imul(a[i]!, x) + b[i]!) >>> 0;
        if (v < sig[i]!) sig[i] = v;
      }
    }
    return sig;
  }

  /** One bucket key per band: a 53-bit hash of the band's rows (exact in a double, a BIGINT in DuckDB). */
  bandKeys(sig: Uint32Array): number[] {
    const keys: number[] = [];
    for (let band = 0; band < this.c.bands; band++) {
      let h1 = 0x12345678 ^ band, h2 = 0x9abcdef0 ^ band;
      for (let r = 0; r < this.c.rows; r++) {
        const v = sig[band * this.c.rows + r]!;
        h1 = Math.imul(h1 ^ v, 0x01000193) >>> 0;
        h2 = Math.imul(h2 ^ ((v >>> 16) | (v << 16)), 0x85ebca6b) >>> 0;
        h2 ^= h2 >>> 13;
      }
      keys.push((h1 & 0x1fffff) * 2 ** 32 + (h2 >>> 0));
    }
    return keys;
  }
}

/** Union-find over document ordinals; each component's representative is its smallest member. */
export class Components {
  private readonly parent = new Map<number, number>();
  find(x: number): number {
    let r = x;
    while (this.parent.has(r) && this.parent.get(r) !== r) r = this.parent.get(r)!;
    let y = x;
    while (y !== r) { const next = this.parent.get(y) ?? r; this.parent.set(y, r); y = next; }
    return r;
  }
  union(a: number, b: number): void {
    const ra = this.find(a), rb = this.find(b);
    if (ra === rb) return;
    if (ra < rb) this.parent.set(rb, ra); else this.parent.set(ra, rb);
    if (!this.parent.has(Math.min(ra, rb))) this.parent.set(Math.min(ra, rb), Math.min(ra, rb));
  }
  /** Every member that is not its component's representative. */
  nonRepresentatives(): number[] {
    return [...this.parent.keys()].filter((x) => this.find(x) !== x).sort((a, b) => a - b);
  }
}
