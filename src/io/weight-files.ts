// The weight files of a Hugging Face model folder, in any layout the released
// Baichuan 2 checkpoints use (model.safetensors, sharded safetensors with
// model.safetensors.index.json, pytorch_model.bin, sharded .bin with
// pytorch_model.bin.index.json), listed as lazy tensor sources (headers and
// pickles only). Checked here, once, for every reader: shard paths stay
// inside the folder, every shard the index names exists, every shard on
// disk is named by the index, and the index and the files agree tensor by
// tensor.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { listSafetensors } from './safetensors.js';
import { listTorchBin } from './torch-bin.js';
import type { TensorSource } from './tensor-source.js';

export type WeightFormat = 'safetensors' | 'bin';

export interface WeightFiles {
  format: WeightFormat;
  /** The index file, when the weights are sharded. */
  index: string | null;
  /** Weight files, in name order (for shards: their number). */
  files: string[];
}

const LAYOUTS: Record<WeightFormat, { index: string; single: string; shard: RegExp }> = {
  safetensors: { index: 'model.safetensors.index.json', single: 'model.safetensors', shard: /^model-\d+-of-\d+\.safetensors$/ },
  bin: { index: 'pytorch_model.bin.index.json', single: 'pytorch_model.bin', shard: /^pytorch_model-\d+-of-\d+\.bin$/ },
};

const indexSchema = z.object({
  metadata: z.object({ total_size: z.number().nonnegative().optional() }).passthrough().optional(),
  weight_map: z.record(z.string()),
});

/** A weight_map entry as a path inside `dir`: relative, no `..`, no absolute paths, no NUL. */
export function shardPath(dir: string, shard: string, indexFile: string): string {
  const norm = path.normalize(shard);
  if (!shard || shard.includes('\0') || path.isAbsolute(shard) || norm === '..' || norm.startsWith(`..${path.sep}`) || shard.split(/[\\/]/).includes('..'))
    throw new Error(`${indexFile}: shard path '${shard}' leaves the model folder (refusing to open it)`);
  const p = path.resolve(dir, norm);
  const root = path.resolve(dir);
  if (p !== root && !p.startsWith(root + path.sep)) throw new Error(`${indexFile}: shard path '${shard}' leaves the model folder (refusing to open it)`);
  return p;
}

interface IndexFile { file: string; byShard: Map<string, string[]> }

function readIndex(dir: string, file: string): IndexFile {
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  const r = indexSchema.safeParse(j);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${file}: ${i.path.length ? `field '${i.path.join('.')}'` : 'the index'}: ${i.message}${i.path[0] === 'weight_map' && i.path.length === 1 ? ' (an index needs a weight_map)' : ''}`);
  }
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(r.data.weight_map)) {
    const p = shardPath(dir, shard, file);
    if (!byShard.has(p)) byShard.set(p, []);
    byShard.get(p)!.push(name);
  }
  if (!byShard.size) throw new Error(`${file}: the weight_map is empty`);
  return { file, byShard };
}

/** Which layout a folder uses (safetensors first unless `prefer` says bin), with the index checked against the folder's files. */
export function findWeightFiles(dir: string, prefer: WeightFormat = 'safetensors'): WeightFiles {
  const order: WeightFormat[] = prefer === 'bin' ? ['bin', 'safetensors'] : ['safetensors', 'bin'];
  for (const format of order) {
    const L = LAYOUTS[format];
    const idx = path.join(dir, L.index);
    if (!fs.existsSync(idx)) continue;
    const { byShard } = readIndex(dir, idx);
    for (const [p, names] of byShard) if (!fs.existsSync(p)) throw new Error(`${idx}: shard ${path.relative(dir, p)} (for ${names.length} tensors, e.g. '${names[0]}') is missing`);
    const listed = new Set(byShard.keys());
    for (const f of fs.readdirSync(dir)) {
      if (L.shard.test(f) && !listed.has(path.resolve(dir, f)))
        throw new Error(`${dir}: shard ${f} is not listed in ${L.index} (a partial download, or an index from another checkpoint?)`);
    }
    return { format, index: idx, files: [...byShard.keys()].sort() };  // shard order (00001, 00002, ...), not the index's key order
  }
  for (const format of order) {
    const p = path.join(dir, LAYOUTS[format].single);
    if (fs.existsSync(p)) return { format, index: null, files: [p] };
  }
  throw new Error(`${dir}: no weights found (model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json)`);
}

/** The tensors of one weight file, by its format. */
export function listWeightFile(file: string): TensorSource[] {
  return file.endsWith('.safetensors') ? listSafetensors(file) : listTorchBin(file);
}

/**
 * Every tensor of a folder's weights as a lazy source, in file order. With an
 * index, each shard must hold exactly the tensors the index assigns to it.
 */
export function listWeights(dir: string, prefer: WeightFormat = 'safetensors'): { files: WeightFiles; sources: TensorSource[] } {
  const files = findWeightFiles(dir, prefer);
  const idx = files.index ? readIndex(dir, files.index) : null;
  const indexed = new Set(idx ? [...idx.byShard.values()].flat() : []);
  const sources: TensorSource[] = [];
  const seen = new Map<string, string>();
  for (const f of files.files) {
    const list = listWeightFile(f);
    if (idx) {
      const want = new Set(idx.byShard.get(f)!);
      for (const s of list) {
        if (!want.has(s.name)) throw new Error(`${files.index}: index and files disagree: ${path.basename(f)} holds '${s.name}', which the index ${indexed.has(s.name) ? 'assigns to another shard' : 'does not list'}`);
        want.delete(s.name);
      }
      if (want.size) throw new Error(`${files.index}: index and files disagree: it puts '${[...want][0]}' in ${path.basename(f)}, which does not hold it${want.size > 1 ? ` (nor ${want.size - 1} more)` : ''}`);
    }
    for (const s of list) {
      const prev = seen.get(s.name);
      if (prev) throw new Error(`${f}: tensor '${s.name}' is also in ${prev}`);
      seen.set(s.name, f);
      sources.push(s);
    }
  }
  return { files, sources };
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (for a folder not yet created). */
function realish(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest.reverse());
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return abs;
      rest.push(path.basename(cur));
      cur = up;
    }
  }
}

/** Refuse an output folder that is the source folder or inside it (before anything is written). */
export function checkOutputFolder(src: string, out: string, what: string): void {
  const s = realish(src), o = realish(out);
  if (o === s) throw new Error(`${what}: --out ${out} is the model folder ${src}; writing there would overwrite the source weights (choose a new folder)`);
  if (o.startsWith(s + path.sep)) throw new Error(`${what}: --out ${out} is inside the model folder ${src}; choose a folder outside it`);
}
