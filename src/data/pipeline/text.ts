// Text helpers shared by the stages: the normalisation used before hashing
// (so copies that differ only in case, width or spacing are "exact" duplicates),
// a 64-bit content hash, a 32-bit string hash for shingles, and splitting into
// paragraphs and sentences (Chinese and Western sentence ends).
import crypto from 'node:crypto';

/** NFKC, lower case, whitespace runs collapsed, trimmed. */
export function normalizeForHash(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/** 64-bit content hash as 16 hex digits (the first half of MD5; collisions are negligible at corpus scale). */
export function hash64(text: string): string {
  return crypto.createHash('md5').update(text).digest('hex').slice(0, 16);
}

/** MurmurHash3 (x86, 32-bit) over UTF-16 code units, with a seed. */
export function murmur32(s: string, seed = 0): number {
  let h = seed >>> 0;
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)) >>> 0;
    k = Math.imul(k, 0xcc9e2d51); k = (k << 15) | (k >>> 17); k = Math.imul(k, 0x1b873593);
    h ^= k; h = (h << 13) | (h >>> 19); h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51); k = (k << 15) | (k >>> 17); k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}

export function paragraphs(text: string): string[] {
  return text.split(/\n[ \t]*\n/u);
}

/** Sentences of a paragraph, each keeping its end mark; splits after 。！？!? and after . ; followed by space, and at newlines. */
export function sentences(paragraph: string): string[] {
  const out: string[] = [];
  const re = /[^。！？!?\n]*?(?:[。！？!?]+[”」』"')）]*|\.(?=\s)|\n|$)/gu;
  for (const m of paragraph.matchAll(re)) {
    if (m[0] === '') { if (m.index! >= paragraph.length) break; continue; }
    out.push(m[0]);
  }
  return out;
}

/** Characters that count as "letters" for the ratio rules: Latin/other letters, CJK, digits. */
export function isWordChar(cp: number): boolean {
  return (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || (cp >= 0xc0 && cp !== 0xd7 && cp !== 0xf7 && !isCjkPunct(cp) && !isSpace(cp));
}

export function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0xf900 && cp <= 0xfaff);
}

function isCjkPunct(cp: number): boolean {
  return (cp >= 0x3000 && cp <= 0x303f) || (cp >= 0xff00 && cp <= 0xff0f) || (cp >= 0xff1a && cp <= 0xff20) || (cp >= 0x2000 && cp <= 0x206f);
}

export function isSpace(cp: number): boolean {
  return cp === 0x20 || cp === 0x09 || cp === 0x0a || cp === 0x0d || cp === 0x3000 || cp === 0xa0;
}
