// Chat format (SPEC §12), sampling semantics, seeded reproducibility, padded
// batches equal to single rows, and streaming that never splits a character.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { buildChatInput } from '../../src/infer/chat-format.js';
import { applyRepetitionPenalty, sampleToken } from '../../src/infer/sampling.js';
import { generate } from '../../src/infer/generate.js';
import { streamText, DeltaDecoder } from '../../src/infer/stream.js';
import { Rng } from '../../src/engine/rng.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { loadTokenizer } from '../../src/io/tokenizer-file.js';

// a toy encoder: one id per character (code point + 1000)
const enc = (s: string): number[] => [...s].map((c) => c.codePointAt(0)! + 1000);

test('buildChatInput: layout, system prompt, newest-first rounds and left truncation', () => {
  const o = { modelMaxLength: 4096, maxNewTokens: 2048 };
  assert.deepEqual(buildChatInput([{ role: 'user', content: 'hi' }], enc, o), [195, ...enc('hi'), 196]);
  assert.deepEqual(
    buildChatInput([{ role: 'system', content: 'S' }, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }], enc, o),
    [...enc('S'), 195, ...enc('a'), 196, ...enc('b'), 195, ...enc('c'), 196]);
  // ends with the assistant: no trailing 196
  assert.deepEqual(buildChatInput([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }], enc, o), [195, ...enc('a'), 196, ...enc('b')]);
  // budget 10 - system 2 = 8: the newest round (5 tokens) fits, the older one (5) does not
  const small = { modelMaxLength: 12, maxNewTokens: 2 };
  const msgs = [{ role: 'system', content: 'SS' }, { role: 'user', content: 'aaaa' }, { role: 'assistant', content: '' }, { role: 'user', content: 'bbbb' }] as const;
  assert.deepEqual(buildChatInput([...msgs], enc, small), [...enc('SS'), 195, ...enc('bbbb'), 196]);
  // the newest round is kept even when too long, then the input is cut from the left (into the system prompt)
  const long = buildChatInput([{ role: 'system', content: 'SS' }, { role: 'user', content: 'x'.repeat(20) }], enc, small);
  assert.equal(long.length, 10);
  assert.deepEqual(long, [...enc('x'.repeat(9)), 196]);
  assert.throws(() => buildChatInput([{ role: 'user', content: 'a' }, { role: 'system', content: 's' }], enc, o), /system message may only come first/);
  assert.throws(() => buildChatInput([], enc, o), /no messages/);
});

test('repetition penalty has Hugging Face semantics; top-k 1 is greedy; seeds reproduce', () => {
  const l = Float32Array.from([2, -2, 1, 0.5]);
  applyRepetitionPenalty(l, [0, 1, 1], 2);
  assert.deepEqual(Array.from(l), [1, -4, 1, 0.5]);
  const logits = () => Float32Array.from([0.1, 3, 2.9, -1, 0.2]);
  assert.equal(sampleToken(logits(), [], { topK: 1, temperature: 1 }, new Rng(1)), 1);
  assert.equal(sampleToken(logits(), [1], { greedy: true, repetitionPenalty: 1.2 }, new Rng(1)), 2);
  const draw = (seed: number) => Array.from({ length: 50 }, (_, i) => sampleToken(logits(), [], { temperature: 1, topP: 0.9 }, new Rng(seed + i)));
  assert.deepEqual(draw(5), draw(5));
  // top-p 0.5 over {3, 2.9, ...}: the two best tokens hold > 0.5 together, so only they can appear
  const seen = new Set(Array.from({ length: 200 }, (_, i) => sampleToken(logits(), [], { temperature: 1, topP: 0.5 }, new Rng(i))));
  assert.deepEqual([...seen].sort(), [1, 2]);
});

function tiny(position: 'rope' | 'alibi', vocab = 300): BaichuanForCausalLM {
  return new BaichuanForCausalLM(configFromJSON({ ...PRESETS.tiny, vocab_size: vocab, position_embedding: position })).initWeights(11).eval();
}

test('a left-padded batch generates exactly what each prompt generates alone', () => {
  for (const pos of ['rope', 'alibi'] as const) {
    const m = tiny(pos);
    const prompts = [[5, 6, 7, 8, 9, 10], [20, 21], [30, 31, 32, 33]];
    const batch = generate(m, prompts, { greedy: true, maxNewTokens: 8, eosTokenId: -1 });
    prompts.forEach((p, i) => assert.deepEqual(batch.tokens[i], generate(m, [p], { greedy: true, maxNewTokens: 8, eosTokenId: -1 }).tokens[0], `${pos} row ${i}`));
    const s1 = generate(m, [prompts[0]!], { temperature: 0.8, topK: 20, maxNewTokens: 10, seed: 3, eosTokenId: -1 });
    const s2 = generate(m, [prompts[0]!], { temperature: 0.8, topK: 20, maxNewTokens: 10, seed: 3, eosTokenId: -1 });
    assert.deepEqual(s1.tokens, s2.tokens);
  }
});

test('generation stops at EOS and refuses prompts longer than the context', () => {
  const m = tiny('rope');
  const eos = generate(m, [[5, 6]], { greedy: true, maxNewTokens: 5, eosTokenId: -1 }).tokens[0]![0]!;
  const r = generate(m, [[5, 6]], { greedy: true, maxNewTokens: 5, eosTokenId: eos });
  assert.deepEqual(r.tokens[0], [eos]);
  assert.throws(() => generate(m, [new Array(250).fill(4)], { maxNewTokens: 10 }), /prompt of 250 tokens \+ 10 new tokens exceeds the context length 256/);
  assert.throws(() => generate(m, [[400]], {}), /token id 400 is outside the vocabulary/);
  assert.throws(() => generate(m, [[1]], { temperature: 0 }), /temperature must be > 0/);
});

const TOK = path.resolve(process.cwd(), '../shared/data/tokenizers/baichuan2/tokenizer.model');

test('streamed deltas concatenate to the final text and never split a character', { skip: !fs.existsSync(TOK) && 'no Baichuan 2 tokenizer' }, async () => {
  const tok = loadTokenizer(TOK);
  const m = tiny('alibi', tok.vocabSize);
  // bias sampling toward byte pieces (ids 1089..1344) so multi-byte characters arrive in parts
  const deltas: string[] = [];
  const it = streamText(m, tok, tok.encode('你好'), { temperature: 1.5, maxNewTokens: 40, seed: 9, eosTokenId: -1 });
  let r = await it.next();
  while (!r.done) { deltas.push(r.value); r = await it.next(); }
  assert.equal(deltas.join(''), r.value.text.replace(/\ufffd+$/, '') + (r.value.text.match(/\ufffd+$/)?.[0] ?? ''));
  for (const d of deltas) assert.ok(!/[\ud800-\udbff]$/.test(d), 'a delta ends inside a surrogate pair');
  assert.equal(r.value.ids.length, 40);
});

test('DeltaDecoder holds back a character until all its byte pieces arrived', { skip: !fs.existsSync(TOK) && 'no Baichuan 2 tokenizer' }, () => {
  const tok = loadTokenizer(TOK);
  const bytes = [...new TextEncoder().encode('𝄞')].map((b) => tok.pieceToId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
  assert.equal(bytes.length, 4);
  const d = new DeltaDecoder(tok);
  const a = tok.encode('ab');
  assert.equal(d.next(a), 'ab');
  assert.equal(d.next([...a, ...bytes.slice(0, 1)]), '');
  assert.equal(d.next([...a, ...bytes.slice(0, 3)]), '');
  assert.equal(d.next([...a, ...bytes]), '𝄞');
  assert.equal(new DeltaDecoder(tok).next(bytes.slice(0, 2), true), '\ufffd\ufffd');
});
