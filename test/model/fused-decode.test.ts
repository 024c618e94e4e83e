// The fused decode layer (engine/quant.ts qdecodeLayer, native/src/impl/decode.h)
// against the composed layers it replaces: a batch-1 greedy generation with a
// KvCache must give the same logits, bit for bit, at every step, with the
// kernel on and off (BaichuanForCausalLM.fusedDecode), for RoPE and ALiBi,
// bf16 and f32 norms, 4- and 8-bit weights, groups of 32 and 64, and on 1 and
// 2 threads. The kernel reuses the composed path's kernels and roundings, so
// anything but equality is a bug (no tolerance).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import { Linear } from '../../src/model/layers.js';
import { QuantizedWeight, type QuantBits } from '../../src/engine/quant.js';
import { backend, cpuBackend, setBackend, setThreads, kernelInfo, setKernels } from '../../src/engine/backend.js';
import { generate } from '../../src/infer/generate.js';

function quantisedModel(position: 'rope' | 'alibi', dtype: 'f32' | 'bf16', bits: QuantBits, G: number): BaichuanForCausalLM {
  const cfg = configFromJSON({ ...PRESETS.tiny, vocab_size: 96, hidden_size: 128, intermediate_size: 192, num_hidden_layers: 2, num_attention_heads: 4, position_embedding: position });
  const model = new BaichuanForCausalLM(cfg).initWeights(7, dtype).eval();
  for (const m of model.modules()) if (m instanceof Linear) m.quantized = QuantizedWeight.quantize(m.weight, bits, G);
  model.lm_head.quantized = QuantizedWeight.quantize(model.lm_head.normalizedWeight(), 8, G);
  return model;
}

/** Greedy tokens and every step's logits; counts the fused kernel's calls. */
function run(model: BaichuanForCausalLM, fused: boolean): { tokens: number[]; logits: Float32Array[]; calls: number } {
  model.fusedDecode = fused;
  let calls = 0;
  setBackend({ ...cpuBackend, decodeLayer: (a) => { calls++; cpuBackend.decodeLayer(a); } });
  try {
    const logits: Float32Array[] = [];
    const r = generate(model, [[5, 17, 33, 2, 60, 71, 9]], { greedy: true, maxNewTokens: 6, eosTokenId: -1, onStep: (_, l) => logits.push(l[0]!) });
    return { tokens: r.tokens[0]!, logits, calls };
  } finally {
    setBackend(cpuBackend);
  }
}

for (const position of ['rope', 'alibi'] as const)
  for (const dtype of ['bf16', 'f32'] as const)
    test(`fused decode = composed layers, bit for bit (${position}, ${dtype} norms, q4/q8, g32/g64)`, () => {
      for (const [bits, G] of [[4, 32], [8, 32], [4, 64], [8, 64]] as const) {
        const model = quantisedModel(position, dtype, bits, G);
        const ref = run(model, false), got = run(model, true);
        assert.equal(ref.calls, 0);
        assert.equal(got.calls, 5 * 2, `q${bits} g${G}: the 5 decode steps x 2 layers ran fused`);
        assert.deepEqual(got.tokens, ref.tokens);
        got.logits.forEach((l, i) => assert.deepEqual(l, ref.logits[i], `q${bits} g${G}: logits of step ${i}`));
      }
    });

test('fused decode = composed layers on every kernel build this CPU supports (bf16 rope q4, f32 alibi q8 g64)', () => {
  const active = kernelInfo().arch;
  try {
    for (const build of kernelInfo().supported) {
      setKernels(build);
      for (const [position, dtype, bits, G] of [['rope', 'bf16', 4, 32], ['alibi', 'f32', 8, 64]] as const) {
        const model = quantisedModel(position, dtype, bits, G);
        const ref = run(model, false), got = run(model, true);
        assert.equal(got.calls, 10);
        got.logits.forEach((l, i) => assert.deepEqual(l, ref.logits[i], `${build} ${position} q${bits}: logits of step ${i}`));
      }
    }
  } finally {
    setKernels(active);
  }
});

test('fused decode gives the same bits on 1 and 2 threads', () => {
  const model = quantisedModel('rope', 'bf16', 4, 32);
  const threads = backend().threads();
  try {
    setThreads(1);
    const one = run(model, true);
    setThreads(2);
    const two = run(model, true);
    two.logits.forEach((l, i) => assert.deepEqual(l, one.logits[i], `step ${i}`));
  } finally {
    setThreads(threads);
  }
});

test('the fused path is skipped where it does not apply: batches, LoRA-style deltas, unquantised layers', () => {
  const model = quantisedModel('rope', 'bf16', 4, 32);
  let calls = 0;
  setBackend({ ...cpuBackend, decodeLayer: (a) => { calls++; cpuBackend.decodeLayer(a); } });
  try {
    generate(model, [[5, 17, 33], [8, 9]], { greedy: true, maxNewTokens: 3, eosTokenId: -1 });
    assert.equal(calls, 0, 'a padded batch of 2 takes the composed path');
    model.model.layers[1]!.mlp.up_proj.quantized = null;
    generate(model, [[5, 17, 33]], { greedy: true, maxNewTokens: 3, eosTokenId: -1 });
    assert.equal(calls, 0, 'a model with an unquantised Linear takes the composed path');
  } finally {
    setBackend(cpuBackend);
  }
});
