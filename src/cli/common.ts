// Helpers shared by commands: parsing id lists, loading models and tokenizers with clear errors.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './flags.js';
import { loadModel } from '../io/hf-folder.js';
import { positionNotes } from '../model/config.js';
import { loadTokenizer } from '../io/tokenizer-file.js';
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import type { BpeTokenizer } from '../tokenizer/bpe.js';
import { Progress } from './progress.js';
import { isGgufFile } from '../io/gguf.js';
import { applyLoraAdapter } from '../align/lora.js';

export function parseIds(v: string, flag = '--ids'): number[] {
  const parts = v.split(/[\s,]+/).filter(Boolean);
  if (!parts.length) throw new UsageError(`${flag}: no ids given`);
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`${flag}: '${p}' is not a non-negative integer id`);
    return Number(p);
  });
}

/** A model folder or a GGUF file (loadModel and loadTokenizer read both). */
export function requireModel(target: string | undefined, flag: string): string {
  if (target && isGgufFile(target)) return target;
  return requireDir(target, flag);
}

export function requireDir(dir: string | undefined, flag: string): string {
  if (!dir) throw new UsageError(`${flag} is required`);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${flag} ${dir}: not a directory`);
  return dir;
}

/** Load a model folder; `adapter` (a PEFT LoRA folder, --adapter) goes on top. */
export function openModel(dir: string, dtype?: 'f32' | 'bf16', adapter?: string): BaichuanForCausalLM {
  let bar: Progress | null = null;
  // a bar (bytes, ETA) only for real checkpoints, not test models; loaded for inference (head normalised in place)
  // BAICHUAN2_CHECK_FINITE=0 skips the NaN/Inf scan of the weights (about 1 s per 10 GB)
  const model = loadModel(dir, { dtype, inference: true, checkFinite: process.env.BAICHUAN2_CHECK_FINITE !== '0', onBytes: (d, t) => { if (t > 2 ** 28) (bar ??= Progress.bytes(`loading ${dir}`, t)).update(d); } });
  // say which position scheme was chosen when config.json does not name it, and warn on a mismatch
  const notes = positionNotes(model.config, isGgufFile(dir) ? dir : path.join(dir, 'config.json'));
  if (model.config.positionSource === 'inferred') console.error(`position: ${model.config.position} (${notes.reason})`);
  for (const w of notes.warnings) console.error(`warning: ${w}`);
  if (adapter !== undefined) {
    requireDir(adapter, '--adapter');
    applyLoraAdapter(model, adapter);
  }
  return model;
}

/** Whether a model folder holds tokenizer.model (a GGUF file always carries its vocabulary). */
export function hasTokenizer(model: string): boolean {
  return isGgufFile(model) || fs.existsSync(path.join(model, 'tokenizer.model'));
}

/** The model folder's tokenizer, or an explicit one. */
export function openTokenizer(modelDir: string | undefined, explicit?: string): BpeTokenizer {
  const target = explicit ?? (modelDir ? (isGgufFile(modelDir) ? modelDir : path.join(modelDir, 'tokenizer.model')) : undefined);
  if (!target) throw new UsageError('a tokenizer is needed: pass --tokenizer FILE (or a model folder that contains tokenizer.model)');
  return loadTokenizer(target);
}
