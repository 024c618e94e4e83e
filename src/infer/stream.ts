// Streaming text: the text of all generated ids is decoded again after each
// step (as Baichuan's TextIterStreamer) and only the new suffix is emitted,
// holding back a trailing U+FFFD that marks a UTF-8 character still split
// across byte tokens — so no delta ever contains half a character.
import type { BaichuanForCausalLM } from '../model/baichuan.js';
import type { BpeTokenizer } from '../tokenizer/bpe.js';
import { GenerationSession, type GenerateOptions } from './generate.js';

export interface StreamResult {
  ids: number[];
  text: string;
  finishReason: 'stop' | 'length';
}

/** Turns a growing id list into text deltas that never end inside a UTF-8 character. */
export class DeltaDecoder {
  private emitted = '';
  constructor(private readonly tok: BpeTokenizer) {}
  /** The new text since the last call; `final` flushes an incomplete trailing character as U+FFFD. */
  next(ids: readonly number[], final = false): string {
    let text = this.tok.decode(ids);
    if (!final) text = text.replace(/\ufffd+$/, '');
    if (text.length <= this.emitted.length || !text.startsWith(this.emitted)) return '';
    const delta = text.slice(this.emitted.length);
    this.emitted = text;
    return delta;
  }
}

/** Yields text deltas for one prompt; the generator's return value has the ids and full text. */
export async function* streamText(model: BaichuanForCausalLM, tok: BpeTokenizer, prompt: number[], opts: GenerateOptions = {}): AsyncGenerator<string, StreamResult> {
  model.eval();
  const s = new GenerationSession(model, [prompt], opts);
  const eos = opts.eosTokenId ?? model.config.eosTokenId;
  const deltas = new DeltaDecoder(tok);
  while (s.step()) {
    const d = deltas.next(s.tokens[0]!.filter((t) => t !== eos), s.finished);
    if (d) yield d;
    await new Promise((r) => setImmediate(r));  // let the event loop breathe between tokens
  }
  const ids = s.tokens[0]!;
  const text = tok.decode(ids.filter((t) => t !== eos));
  const last = deltas.next(ids.filter((t) => t !== eos), true);
  if (last) yield last;
  return { ids, text, finishReason: ids[ids.length - 1] === eos ? 'stop' : 'length' };
}
