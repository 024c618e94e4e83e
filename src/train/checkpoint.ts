// Training checkpoints: an HF model folder plus optimizer.safetensors and
// trainer_state.json, written into a temporary folder and renamed into place,
// then published through latest.json (also renamed): a crash never leaves a
// half-written checkpoint behind, it only loses the steps since the last one.
import fs from 'node:fs';
import path from 'node:path';
import { saveModel, loadModel } from '../io/hf-folder.js';
import { writeSafetensors, readSafetensors } from '../io/safetensors.js';
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import type { OptimizerState } from './parallel.js';
import { commitDir, tempDirFor, writeFileAtomic } from '../engine/atomic-write.js';

export interface TrainerState {
  step: number;
  loader: { position: number; epoch: number };
  tokensSeen: number;
  configHash: string;
  elapsedSeconds: number;
}

export function checkpointsDir(out: string): string {
  return path.join(out, 'checkpoints');
}

export function saveCheckpoint(out: string, model: BaichuanForCausalLM, opt: OptimizerState, state: TrainerState, tokenizer: string | undefined, keep: number): string {
  return publishCheckpoint(out, state.step, keep, (tmp) => {
    saveModel(model, tmp, { tokenizerModel: tokenizer });
    writeTrainingState(tmp, opt, state);
  });
}

/** The optimizer moments and the trainer state, into a checkpoint folder. */
export function writeTrainingState(dir: string, opt: OptimizerState, state: TrainerState): void {
  writeSafetensors(path.join(dir, 'optimizer.safetensors'), opt.stateTensors(), { step: String(opt.step) });
  writeFileAtomic(path.join(dir, 'trainer_state.json'), JSON.stringify(state, null, 2) + '\n');
}

/**
 * Write a checkpoint for `step` through `write(tmpDir)` (weights, adapter,
 * optimizer: whatever the trainer needs), rename it into place, publish it in
 * latest.json and keep the newest `keep`. Shared by pre-training and SFT.
 */
export function publishCheckpoint(out: string, step: number, keep: number, write: (tmpDir: string) => void): string {
  const dir = checkpointsDir(out);
  fs.mkdirSync(dir, { recursive: true });
  const name = `step-${String(step).padStart(7, '0')}`;
  const final = path.join(dir, name);
  const tmp = tempDirFor(final);
  fs.mkdirSync(tmp, { recursive: true });
  write(tmp);
  commitDir(tmp, final);
  writeFileAtomic(path.join(dir, 'latest.json'), JSON.stringify({ checkpoint: name, step }) + '\n');
  // keep the newest `keep` checkpoints
  const all = fs.readdirSync(dir).filter((d) => /^step-\d+$/.test(d)).sort();
  for (const d of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(path.join(dir, d), { recursive: true, force: true });
  return final;
}

/** Optimizer moments and trainer state of a checkpoint folder. */
export function readTrainingState(dir: string): { optimizer: Map<string, import('../engine/tensor.js').Tensor>; state: TrainerState } {
  return { optimizer: readSafetensors(path.join(dir, 'optimizer.safetensors')), state: JSON.parse(fs.readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as TrainerState };
}

export function latestCheckpoint(out: string): string | null {
  const f = path.join(checkpointsDir(out), 'latest.json');
  if (!fs.existsSync(f)) return null;
  const { checkpoint } = JSON.parse(fs.readFileSync(f, 'utf8')) as { checkpoint: string };
  const dir = path.join(checkpointsDir(out), checkpoint);
  if (!fs.existsSync(dir)) throw new Error(`${f} points at ${checkpoint}, which is missing`);
  return dir;
}

export function loadCheckpoint(dir: string): { model: BaichuanForCausalLM; optimizer: Map<string, import('../engine/tensor.js').Tensor>; state: TrainerState } {
  const model = loadModel(dir);
  const optimizer = readSafetensors(path.join(dir, 'optimizer.safetensors'));
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
  return { model, optimizer, state };
}
