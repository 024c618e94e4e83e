// The SentencePiece vocabulary as GGUF `tokenizer.ggml.*` keys (what
// llama.cpp's "llama" = SPM tokenizer reads), and back: a tokenizer model
// built from a GGUF file's tokens, scores and token types.
// llama.cpp's SPM tokenizer escapes spaces as U+2581, adds a leading space
// only when `tokenizer.ggml.add_space_prefix` is true (its default when the
// key is absent), never removes extra whitespace, always cuts out
// USER_DEFINED pieces, merges by score with ties to the leftmost pair and
// falls back to <0xXX> byte pieces: the same rules as SentencePiece with
// Baichuan 2's normaliser (identity, no dummy prefix, no whitespace removal).
import { PieceType, byteFallback, type SpModel } from '../tokenizer/sentencepiece-model.js';
import type { PbField } from '../tokenizer/protobuf.js';
import { GgufType, gv, kvBool, kvNumber, kvString, type GgufFile, type GgufValue } from './gguf.js';

export interface VocabSpecial { bos: number; eos: number; pad: number }

/**
 * Baichuan 2's chat format (src/infer/chat-format.ts) as a Jinja template:
 * the system text as is, each user turn after the user token (195), each
 * assistant turn after the assistant token (196), then 196 to prompt a reply.
 */
export function chatTemplate(user: string, assistant: string): string {
  return "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] }}"
    + `{% elif message['role'] == 'user' %}${user}{{ message['content'] }}`
    + `{% else %}${assistant}{{ message['content'] }}{% endif %}{% endfor %}`
    + `{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}${assistant}{% endif %}`;
}

export const USER_TOKEN = 195, ASSISTANT_TOKEN = 196;

export function vocabKv(m: SpModel, s: VocabSpecial): [string, GgufValue][] {
  if (m.normalizer.precompiledCharsmap.length) throw new Error('GGUF export: the tokenizer uses a precompiled normalisation map, which llama.cpp\'s SPM tokenizer does not apply');
  if (m.normalizer.removeExtraWhitespaces) throw new Error('GGUF export: the tokenizer removes extra whitespace, which llama.cpp\'s SPM tokenizer never does (its ids would differ)');
  const unk = m.pieces.findIndex((p) => p.type === PieceType.UNKNOWN);
  const kv: [string, GgufValue][] = [
    ['tokenizer.ggml.model', gv.str('llama')],
    ['tokenizer.ggml.pre', gv.str('default')],
    ['tokenizer.ggml.tokens', gv.strings(m.pieces.map((p) => p.piece))],
    ['tokenizer.ggml.scores', gv.f32s(Float32Array.from(m.pieces, (p) => p.score))],
    ['tokenizer.ggml.token_type', gv.i32s(Int32Array.from(m.pieces, (p) => p.type))],
    ['tokenizer.ggml.bos_token_id', gv.u32(s.bos)],
    ['tokenizer.ggml.eos_token_id', gv.u32(s.eos)],
    ...(unk >= 0 ? [['tokenizer.ggml.unknown_token_id', gv.u32(unk)] as [string, GgufValue]] : []),
    ['tokenizer.ggml.padding_token_id', gv.u32(s.pad)],
    ['tokenizer.ggml.add_bos_token', gv.bool(false)],
    ['tokenizer.ggml.add_eos_token', gv.bool(false)],
    ['tokenizer.ggml.add_space_prefix', gv.bool(m.normalizer.addDummyPrefix)],
  ];
  // the chat template only where ids 195 / 196 are Baichuan 2's role tokens (special, not text pieces)
  const role = (id: number) => m.pieces[id] && m.pieces[id]!.type !== PieceType.NORMAL ? m.pieces[id]!.piece : null;
  const user = role(USER_TOKEN), assistant = role(ASSISTANT_TOKEN);
  if (user && assistant) kv.push(['tokenizer.chat_template', gv.str(chatTemplate(user, assistant))]);
  return kv;
}

/** A SentencePiece model equivalent to a GGUF file's SPM vocabulary (for our BpeTokenizer). */
export function spModelFromGguf(g: GgufFile): SpModel {
  const model = kvString(g, 'tokenizer.ggml.model');
  if (model === undefined) throw new Error(`${g.file}: no tokenizer in this GGUF file (tokenizer.ggml.model is missing)`);
  if (model !== 'llama') throw new Error(`${g.file}: tokenizer.ggml.model is '${model}'; only SentencePiece ('llama') vocabularies are read (Baichuan 2's)`);
  const tokens = g.kv.get('tokenizer.ggml.tokens');
  if (!tokens || tokens.type !== GgufType.ARRAY || tokens.elemType !== GgufType.STRING) throw new Error(`${g.file}: tokenizer.ggml.tokens is missing or not a string array`);
  const pieces = tokens.value as string[];
  const scoresV = g.kv.get('tokenizer.ggml.scores');
  if (!scoresV || scoresV.type !== GgufType.ARRAY || !(scoresV.value instanceof Float32Array) || scoresV.value.length !== pieces.length)
    throw new Error(`${g.file}: tokenizer.ggml.scores must be ${pieces.length} f32 values (BPE merges follow the scores)`);
  const typesV = g.kv.get('tokenizer.ggml.token_type');
  if (!typesV || typesV.type !== GgufType.ARRAY || !(typesV.value instanceof Int32Array) || typesV.value.length !== pieces.length)
    throw new Error(`${g.file}: tokenizer.ggml.token_type must be ${pieces.length} i32 values`);
  const scores = scoresV.value, types = typesV.value;
  const out: SpModel['pieces'] = pieces.map((piece, i) => {
    const type = types[i]!;
    if (!PieceType[type]) throw new Error(`${g.file}: token ${i} ('${piece}') has unknown type ${type}`);
    return { piece, score: scores[i]!, type };
  });
  const hasBytes = out.some((p) => p.type === PieceType.BYTE);
  const varint = (no: number, value: number): PbField => ({ no, wire: 0, value });
  const trainerSpec: PbField[] = [varint(3, 2), varint(4, pieces.length), varint(35, hasBytes ? 1 : 0)];
  const unk = kvNumber(g, 'tokenizer.ggml.unknown_token_id', -1);
  if (unk >= 0) trainerSpec.push(varint(40, unk));
  const m: SpModel = {
    pieces: out, trainerSpec, otherFields: [],
    normalizer: { name: 'identity', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: kvBool(g, 'tokenizer.ggml.add_space_prefix') ?? true, removeExtraWhitespaces: false, escapeWhitespaces: true },
  };
  if (byteFallback(m) !== hasBytes) throw new Error('internal: byte fallback flag');
  return m;
}
