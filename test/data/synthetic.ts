// Synthetic corpora with controlled overlaps for the dedup tests: base
// documents of random words, near copies with a known fraction of words
// replaced, and exact copies that differ only in case and spacing.
import { Rng } from '../../src/engine/rng.js';

export interface SyntheticDoc { text: string; source: string; base: number; kind: 'base' | 'near' | 'far' | 'exact' }

export function syntheticCorpus(o: { bases: number; words: number; nearPerBase: number; nearRate: [number, number]; farRate: number; exactEvery: number; seed: number }): SyntheticDoc[] {
  const rng = new Rng(o.seed);
  const vocab = Array.from({ length: 4000 }, (_, i) => 'w' + i.toString(36) + String.fromCharCode(97 + (i % 26)));
  const word = () => vocab[rng.int(vocab.length)]!;
  const out: SyntheticDoc[] = [];
  for (let b = 0; b < o.bases; b++) {
    const base = Array.from({ length: o.words }, word);
    out.push({ text: base.join(' '), source: b % 2 ? 'en' : 'web', base: b, kind: 'base' });
    for (let k = 0; k < o.nearPerBase; k++) {
      const rate = o.nearRate[0] + rng.uniform() * (o.nearRate[1] - o.nearRate[0]);
      out.push({ text: base.map((w) => (rng.uniform() < rate ? word() : w)).join(' '), source: 'web', base: b, kind: 'near' });
    }
    out.push({ text: base.map((w) => (rng.uniform() < o.farRate ? word() : w)).join(' '), source: 'web', base: b, kind: 'far' });
    if (o.exactEvery > 0 && b % o.exactEvery === 0) out.push({ text: '  ' + base.join('   ').toUpperCase() + '\n', source: 'web', base: b, kind: 'exact' });
  }
  // shuffle deterministically so copies are spread over shards and come before or after their base
  for (let i = out.length - 1; i > 0; i--) { const j = rng.int(i + 1); [out[i], out[j]] = [out[j]!, out[i]!]; }
  return out;
}
