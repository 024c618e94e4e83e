// Tiny Baichuan 2 model folders for the GGUF tests: hidden 64 (4 heads of 16),
// ffn 96 (both multiples of 32, so Q8_0 / Q4_0 blocks fit), the 8,000-piece
// SentencePiece BPE tokenizer of ../shared, 32 layers (RoPE, llama.cpp's 7B
// rule) or 40 (ALiBi, its 13B rule). initializer_range 0.1 makes attention
// scores large enough that a wrong position scheme changes the log-probs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { configFromJSON } from '../../src/model/config.js';
import { saveModel } from '../../src/io/hf-folder.js';

export const DATA = path.resolve(process.cwd(), '../shared/data');
export const TOKENIZER = path.join(DATA, 'tokenizers/spm-bpe-8000/tokenizer.model');
export const HAVE_DATA = fs.existsSync(TOKENIZER);
export const V = 8000;

export function tmpDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bc2-${name}-`));
}

export function makeFolder(dir: string, o: { position: 'rope' | 'alibi'; layers: number; seed?: number; dtype?: 'f32' | 'bf16'; ffn?: number }): string {
  const cfg = configFromJSON({
    position_embedding: o.position, vocab_size: V, hidden_size: 64, intermediate_size: o.ffn ?? 96, num_hidden_layers: o.layers,
    num_attention_heads: 4, max_position_embeddings: 128, initializer_range: 0.1,
  });
  const m = new BaichuanForCausalLM(cfg).initWeights(o.seed ?? 1, o.dtype ?? 'f32');
  saveModel(m, dir, { tokenizerModel: TOKENIZER });
  return dir;
}

/** The ids the llama.cpp tests score: 8 positions (our quantised kernels quantise activations for up to 8 rows). */
export const PROMPT = [1, 523, 77, 4011, 912, 35, 6001, 250];

/** log-softmax of each row of [T, V] logits, in float64. */
export function logSoftmaxRows(logits: Float32Array, T: number, Vv: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const row = logits.subarray(t * Vv, (t + 1) * Vv);
    let mx = -Infinity;
    for (const x of row) mx = Math.max(mx, x);
    let s = 0;
    for (const x of row) s += Math.exp(x - mx);
    const l = Math.log(s) + mx;
    out.push(Float64Array.from(row, (x) => x - l));
  }
  return out;
}
