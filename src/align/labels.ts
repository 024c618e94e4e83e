// The official SFT example layout (baichuan-inc/Baichuan2 fine-tune/fine-tune.py,
// SupervisedDataset.preprocessing; SPEC §12):
//   user turn       inputs 195 + ids    labels eos + [-100] * len(ids)
//   assistant turn  inputs 196 + ids    labels -100 + ids
//   then eos in both; then both cut to model_max_length (so a cut example has no final eos).
// The user turn's eos label sits on the 195 token: after the model's shift it is
// the target of the token before, so the model learns to stop before the next
// user turn. A system prompt (OpenAI format only) is encoded at the front with
// labels -100, where build_chat_input places it. `encode` is the tokenizer's
// plain encode (no BOS/EOS: Baichuan 2's tokenizer_config sets both off).
// The official script then right-pads to model_max_length; we keep examples
// unpadded here and pad (or pack) per batch in src/align/batches.ts.
import type { Conversation } from './conversations.js';
import type { BpeTokenizer } from '../tokenizer/bpe.js';

export const IGNORE_INDEX = -100;

export interface LabelOptions {
  /** model_max_length of the official script (default 512). */
  maxLength?: number;
  userTokenId?: number;       // 195
  assistantTokenId?: number;  // 196
  eosTokenId?: number;        // 2
}

export interface SftExample {
  inputIds: number[];
  labels: number[];
}

/**
 * `tokenizer.encode(value)` of the official script (the Hugging Face slow
 * BaichuanTokenizer): the text is first split on the special tokens it
 * declares (<unk>, <s>, </s>; not stripped), which map to their ids; the
 * pieces between go through SentencePiece. So a literal "</s>" in a message
 * becomes eos, as it does in fine-tune.py.
 */
export function officialEncoder(tok: BpeTokenizer): (text: string) => number[] {
  const specials = ['<unk>', '<s>', '</s>'].map((p) => [p, tok.pieceToId(p)] as const).filter(([p, id]) => tok.pieces[id] === p);
  if (!specials.length) return (t) => tok.encode(t);
  const re = new RegExp(`(${specials.map(([p]) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})`);
  const ids = new Map(specials);
  return (text) => {
    const out: number[] = [];
    for (const part of text.split(re)) {
      if (!part) continue;
      const id = ids.get(part);
      if (id !== undefined) out.push(id);
      else out.push(...tok.encode(part));
    }
    return out;
  };
}

export function officialExample(conv: Pick<Conversation, 'turns' | 'system'>, encode: (text: string) => number[], o: LabelOptions = {}): SftExample {
  const maxLength = o.maxLength ?? 512;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`max length must be a positive integer, got ${maxLength}`);
  const user = o.userTokenId ?? 195, assistant = o.assistantTokenId ?? 196, eos = o.eosTokenId ?? 2;
  const inputIds: number[] = [], labels: number[] = [];
  if (conv.system !== undefined) {
    const s = encode(conv.system);
    inputIds.push(...s);
    for (let i = 0; i < s.length; i++) labels.push(IGNORE_INDEX);
  }
  for (const t of conv.turns) {
    const ids = encode(t.content);
    if (t.role === 'user') {
      inputIds.push(user, ...ids);
      labels.push(eos);
      for (let i = 0; i < ids.length; i++) labels.push(IGNORE_INDEX);
    } else {
      inputIds.push(assistant, ...ids);
      labels.push(IGNORE_INDEX, ...ids);
    }
  }
  inputIds.push(eos);
  labels.push(eos);
  return { inputIds: inputIds.slice(0, maxLength), labels: labels.slice(0, maxLength) };
}

/**
 * Next-token targets aligned with the inputs, as the model's internal shift
 * makes them (target[t] = label[t + 1]; the last position has none). Shifting
 * per example, before padding or packing, is what keeps a packed row's loss
 * equal to the unpacked one: no target ever crosses into the next example.
 */
export function shiftedTargets(labels: readonly number[]): number[] {
  const out = labels.slice(1);
  out.push(IGNORE_INDEX);
  return out;
}

/** Number of positions that carry a loss (after the shift). */
export function lossTokens(labels: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < labels.length; i++) if (labels[i] !== IGNORE_INDEX) n++;
  return n;
}
