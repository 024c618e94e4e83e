// The demo's corpus, assembled from text installed with the package's own
// dependencies (nothing downloaded at run time, no third-party text in this
// repository): Chinese from the npm package `chinese-poetry` (论语 and Tang
// poems), English from the README/Markdown files of installed npm packages,
// and code from TypeScript's lib/*.d.ts. Files are taken in sorted order up
// to a byte budget per language, so the corpus is the same on every machine
// with the same lockfile.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export interface DemoDoc { text: string; lang: 'zh' | 'en' | 'code'; source: string }

function packageDir(name: string): string | null {
  const require = createRequire(import.meta.url);
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

function take(docs: DemoDoc[], budget: number): DemoDoc[] {
  const out: DemoDoc[] = [];
  let used = 0;
  for (const d of docs) {
    if (used >= budget) break;
    out.push(d);
    used += Buffer.byteLength(d.text);
  }
  return out;
}

function chinese(budget: number): DemoDoc[] {
  const dir = packageDir('chinese-poetry');
  if (!dir) throw new Error('demo corpus: the npm package chinese-poetry is not installed (run `npm ci`)');
  const docs: DemoDoc[] = [];
  const lunyu = JSON.parse(fs.readFileSync(path.join(dir, 'dist/lunyu/lunyu.json'), 'utf8')) as { chapter: string; paragraphs: string[] }[];
  for (const c of lunyu) docs.push({ text: `${c.chapter}\n${c.paragraphs.join('\n')}`, lang: 'zh', source: `chinese-poetry:lunyu/${c.chapter}` });
  const tang = fs.readdirSync(path.join(dir, 'dist/quantangshi')).filter((f) => /^poet\.tang\.\d+\.json$/.test(f))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]));
  let bytes = docs.reduce((s, d) => s + Buffer.byteLength(d.text), 0);
  for (const f of tang) {
    if (bytes > budget) break;
    const poems = JSON.parse(fs.readFileSync(path.join(dir, 'dist/quantangshi', f), 'utf8')) as { author: string; title: string; paragraphs: string[] }[];
    for (const p of poems) {
      const text = `${p.title}\n${p.author}\n${p.paragraphs.join('\n')}`;
      docs.push({ text, lang: 'zh', source: `chinese-poetry:quantangshi/${f}` });
      bytes += Buffer.byteLength(text);
    }
  }
  return take(docs, budget);
}

function english(root: string, budget: number): DemoDoc[] {
  const files: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < 4 && e.name !== 'chinese-poetry' && !e.name.startsWith('.')) walk(p, depth + 1);
      else if (e.isFile() && /\.md$/i.test(e.name) && !/changelog|history|license/i.test(e.name)) files.push(p);
    }
  };
  walk(path.join(root, 'node_modules'), 0);
  const docs = files.map((f) => ({ text: proseOf(fs.readFileSync(f, 'utf8')), lang: 'en' as const, source: `npm:${path.relative(path.join(root, 'node_modules'), f)}` }))
    .filter((d) => d.text.length > 200 && !/[\u4e00-\u9fff]/.test(d.text));
  return take(docs, budget);
}

/** The prose of a Markdown file: code blocks, HTML, images, badges and tables dropped, link text kept. */
export function proseOf(md: string): string {
  return md
    .replace(/```[\s\S]*?```/g, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<[^>]+>/g, '')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .split('\n')
    .filter((l) => !/^\s*(\||[-=]{3,}|\[!|\s*$)/.test(l) || l.trim() === '')
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function code(budget: number): DemoDoc[] {
  const dir = packageDir('typescript');
  if (!dir) throw new Error('demo corpus: typescript is not installed (run `npm ci`)');
  const lib = path.join(dir, 'lib');
  const files = fs.readdirSync(lib).filter((f) => /^lib\..*\.d\.ts$/.test(f)).sort();
  const docs: DemoDoc[] = [];
  for (const f of files) {
    // one document per top-level block, so that documents are of a trainable size
    const text = fs.readFileSync(path.join(lib, f), 'utf8').replace(/^\/\*![\s\S]*?\*\/\s*/, '');
    for (const chunk of text.split(/\n(?=interface |declare |type )/)) if (chunk.trim().length > 80) docs.push({ text: chunk.replace(/\n{3,}/g, '\n\n'), lang: 'code', source: `typescript:lib/${f}` });
  }
  return take(docs, budget);
}

/** Build the demo corpus; `root` is the package folder (for node_modules). */
export function buildDemoCorpus(root: string, bytesPerLanguage: number): DemoDoc[] {
  const all = [...chinese(bytesPerLanguage), ...english(root, bytesPerLanguage), ...code(bytesPerLanguage)];
  // interleave deterministically so that the validation split sees every language
  return all.map((d, i) => ({ d, k: hash(d.source + i) })).sort((a, b) => a.k - b.k).map((x) => x.d);
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}
