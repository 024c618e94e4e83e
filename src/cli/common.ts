// Helpers shared by commands: parsing id lists, loading models and tokenizers with clear errors.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './flags.js';
import { loadModel } from '../io/hf-folder.js';
import { positionNotes } from '../model/config.js';
import { loadTokenizer } from '../tokenizer/index.js';
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import type { BpeTokenizer } from '../tokenizer/bpe.js';
import { Progress } from './progress.js';

export function parseIds(v: string, flag = '--ids'): number[] {
  const parts = v.split(/[\s,]+/).filter(Boolean);
  if (!parts.length) throw new UsageError(`${flag}: no ids given`);
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`${flag}: '${p}' is not a non-negative integer id`);
    return Number(p);
  });
}

export function requireDir(dir: string | undefined, flag: string): string {
  if (!dir) throw new UsageError(`${flag} is required`);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${flag} ${dir}: not a directory`);
  return dir;
}

export function openModel(dir: string, dtype?: 'f32' | 'bf16'): BaichuanForCausalLM {
  let bar: Progress | null = null;
  // a bar only for real checkpoints (hundreds of tensors), not test models
  const model = loadModel(dir, { dtype, onProgress: (d, t) => { if (t > 50) (bar ??= new Progress(`loading ${dir}`, t)).update(d); } });
  // say which position scheme was chosen when config.json does not name it, and warn on a mismatch
  const notes = positionNotes(model.config, path.join(dir, 'config.json'));
  if (model.config.positionSource === 'inferred') console.error(`position: ${model.config.position} (${notes.reason})`);
  for (const w of notes.warnings) console.error(`warning: ${w}`);
  return model;
}

/** The model folder's tokenizer, or an explicit one. */
export function openTokenizer(modelDir: string | undefined, explicit?: string): BpeTokenizer {
  const target = explicit ?? (modelDir ? path.join(modelDir, 'tokenizer.model') : undefined);
  if (!target) throw new UsageError('a tokenizer is needed: pass --tokenizer FILE (or a model folder that contains tokenizer.model)');
  return loadTokenizer(target);
}
