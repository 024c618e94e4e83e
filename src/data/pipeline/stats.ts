// `data stats`: what a set of inputs or shards holds: documents, bytes,
// per-source counts, character classes, length quantiles, malformed records.
import { newReadStats, readDocumentRecords, skippedByReason } from '../documents.js';
import { isCjk, isSpace } from './text.js';

export interface CorpusStats {
  documents: number; bytes: number; chars: number;
  sources: Record<string, { documents: number; bytes: number }>;
  cjkShare: number; asciiLetterShare: number; digitShare: number; spaceShare: number;
  lengthQuantiles: Record<string, number>;
  malformed: Record<string, number>;
}

export async function corpusStats(files: string[], sourceField = 'source'): Promise<CorpusStats> {
  const ing = newReadStats();
  const sources: CorpusStats['sources'] = {};
  const lengths: number[] = [];
  let chars = 0, cjk = 0, letters = 0, digits = 0, spaces = 0;
  for await (const d of readDocumentRecords(files, ing, sourceField)) {
    const b = Buffer.byteLength(d.text);
    const s = (sources[d.source] ??= { documents: 0, bytes: 0 });
    s.documents++; s.bytes += b;
    lengths.push(d.text.length);
    for (const ch of d.text) {
      const cp = ch.codePointAt(0)!;
      chars++;
      if (isCjk(cp)) cjk++;
      else if ((cp | 32) >= 97 && (cp | 32) <= 122) letters++;
      else if (cp >= 48 && cp <= 57) digits++;
      else if (isSpace(cp)) spaces++;
    }
  }
  lengths.sort((a, b) => a - b);
  const q = (p: number) => (lengths.length ? lengths[Math.min(lengths.length - 1, Math.floor(p * lengths.length))]! : 0);
  const share = (n: number) => (chars ? n / chars : 0);
  return {
    documents: ing.documents, bytes: ing.bytes, chars, sources,
    cjkShare: share(cjk), asciiLetterShare: share(letters), digitShare: share(digits), spaceShare: share(spaces),
    lengthQuantiles: { p10: q(0.1), p50: q(0.5), p90: q(0.9), max: lengths[lengths.length - 1] ?? 0 },
    malformed: skippedByReason(ing),
  };
}
