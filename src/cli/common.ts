// Helpers shared by commands: parsing id lists, loading models and tokenizers with clear errors.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './flags.js';
import { loadModel } from '../io/hf-folder.js';
import { loadTokenizer } from '../tokenizer/index.js';
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import type { BpeTokenizer } from '../tokenizer/bpe.js';
import { Progress } from './progress.js';
import { applyLoraAdapter } from '../align/lora.js';

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

/** Load a model folder; `adapter` (a PEFT LoRA folder, --adapter) goes on top. */
export function openModel(dir: string, dtype?: 'f32' | 'bf16', adapter?: string): BaichuanForCausalLM {
  let bar: Progress | null = null;
  // a bar only for real checkpoints (hundreds of tensors), not test models
  const model = loadModel(dir, { dtype, onProgress: (d, t) => { if (t > 50) (bar ??= new Progress(`loading ${dir}`, t)).update(d); } });
  if (adapter !== undefined) {
    requireDir(adapter, '--adapter');
    applyLoraAdapter(model, adapter);
  }
  return model;
}

/** The model folder's tokenizer, or an explicit one. */
export function openTokenizer(modelDir: string | undefined, explicit?: string): BpeTokenizer {
  const target = explicit ?? (modelDir ? path.join(modelDir, 'tokenizer.model') : undefined);
  if (!target) throw new UsageError('a tokenizer is needed: pass --tokenizer FILE (or a model folder that contains tokenizer.model)');
  return loadTokenizer(target);
}
