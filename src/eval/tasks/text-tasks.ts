// Tasks over raw text:
// - `flores`: translation scored with corpus BLEU (sacreBLEU defaults; 'zh'
//   tokenisation for Chinese targets, '13a' otherwise), k-shot from the dev
//   split, in the Flores-101 layout (dev/<lang>.dev, devtest/<lang>.devtest,
//   e.g. zho_simpl, eng). The paper uses 8-shot zh→{en,fr,es,ar,ru,ja,de}.
//   Flores itself is not shipped here (see ../shared/data/eval/README.md).
// - `perplexity`: a UTF-8 text file cut into windows of the model's context;
//   each window predicts the tokens the previous one did not, with up to half
//   a window of preceding context. Reports nats/token and bits/byte (the
//   first token has no context and is not scored; its bytes still count).
import fs from 'node:fs';
import path from 'node:path';
import type { GenItem, LoadOptions, PplItem, Task } from './types.js';

const FLORES: Record<string, { code: string; name: string }> = {
  zh: { code: 'zho_simpl', name: 'Chinese' }, en: { code: 'eng', name: 'English' }, fr: { code: 'fra', name: 'French' },
  es: { code: 'spa', name: 'Spanish' }, ar: { code: 'ara', name: 'Arabic' }, ru: { code: 'rus', name: 'Russian' },
  ja: { code: 'jpn', name: 'Japanese' }, de: { code: 'deu', name: 'German' },
};
export const PAPER_FLORES_PAIRS = ['zh-en', 'zh-fr', 'zh-es', 'zh-ar', 'zh-ru', 'zh-ja', 'zh-de'];

function floresLines(dir: string, split: 'dev' | 'devtest', lang: string): string[] {
  const l = FLORES[lang];
  if (!l) throw new Error(`flores: unknown language '${lang}' (known: ${Object.keys(FLORES).join(', ')})`);
  const file = path.join(dir, split, `${l.code}.${split}`);
  if (!fs.existsSync(file)) throw new Error(`flores: missing ${file} (expected the Flores-101 layout: dev/ and devtest/ with <lang>.<split> files)`);
  return fs.readFileSync(file, 'utf8').replace(/\n$/, '').split('\n');
}

export function loadFlores(o: LoadOptions): Task {
  const dir = fs.existsSync(path.join(o.data, 'devtest')) ? o.data : path.join(o.data, 'flores101_dataset');
  const shots = o.shots ?? 8;
  const pairs = o.pairs ?? PAPER_FLORES_PAIRS;
  const items: GenItem[] = [];
  for (const pair of pairs) {
    const [src, tgt] = pair.split('-');
    if (!src || !tgt) throw new Error(`flores: pair '${pair}' is not of the form zh-en`);
    const line = (s: string) => `${FLORES[src]!.name}: ${s}\n${FLORES[tgt]!.name}:`;
    const devS = floresLines(dir, 'dev', src), devT = floresLines(dir, 'dev', tgt);
    const testS = floresLines(dir, 'devtest', src), testT = floresLines(dir, 'devtest', tgt);
    if (devS.length !== devT.length || testS.length !== testT.length) throw new Error(`flores: ${pair} has unaligned files`);
    const examples = devS.slice(0, shots).map((s, i) => `${line(s)} ${devT[i]}\n\n`);
    testS.forEach((s, i) => items.push({
      kind: 'gen', id: `${pair}/${i}`, subject: pair, header: '', shots: examples, query: line(s),
      stop: ['\n'], maxNewTokens: 256, gold: testT[i]!, check: 'bleu', bleuTokenizer: tgt === 'zh' ? 'zh' : '13a',
    }));
  }
  return { name: 'flores', title: 'Flores-101', metric: 'bleu', shots, source: dir, protocol: `${shots}-shot (dev examples), greedy, corpus BLEU (sacreBLEU-compatible)`, items };
}

export function loadPerplexity(o: LoadOptions): Task {
  if (!o.encode || !o.maxLength) throw new Error('perplexity: needs the tokenizer and the model context length');
  if (!fs.existsSync(o.data) || !fs.statSync(o.data).isFile()) throw new Error(`perplexity: --data ${o.data} is not a text file`);
  const text = fs.readFileSync(o.data, 'utf8');
  const ids = o.encode(text);
  if (ids.length < 2) throw new Error(`perplexity: ${o.data} encodes to ${ids.length} token(s); need at least 2`);
  const window = Math.min(o.maxLength, 1024) + 1;  // +1: the last token is only a target
  const stride = Math.floor(window / 2);
  const items: PplItem[] = [];
  for (let end = window, done = 1; done < ids.length; end += stride) {
    const stop = Math.min(end, ids.length);
    const start = Math.max(0, stop - window);
    items.push({ kind: 'ppl', id: `ppl/${items.length}`, subject: path.basename(o.data), tokens: ids.slice(start, stop), from: done - start, bytes: 0 });
    done = stop;
  }
  // each window is credited the text's bytes in proportion to the tokens it predicts,
  // so bits/byte stays meaningful on a --limit prefix; the full run sums to the file size
  const totalBytes = Buffer.byteLength(text, 'utf8');
  let credited = 0, predicted = 0;
  for (const it of items) {
    predicted += it.tokens.length - it.from;
    const upto = Math.round((totalBytes * predicted) / (ids.length - 1));
    it.bytes = upto - credited;
    credited = upto;
  }
  return { name: 'perplexity', title: 'Perplexity', metric: 'bits/byte', shots: 0, source: o.data, protocol: `windows of ${window - 1} tokens, stride ${stride}; first token unscored`, items };
}
