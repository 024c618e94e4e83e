// The device seam, exercised by two test-only backends built on the CPU one:
// - "counting": every kernel of the CPU backend, each call counted, freed
//   scratch poisoned with NaN (a use after free would show in the results);
//   it must give the CPU backend's bits exactly, and every tensor a training
//   step computes must live in storage its allocator handed out;
// - "fallback-only": the same, but supportsOp() is false and its fused
//   kernels throw, so every fused op must take its composed fallback; models
//   (RoPE and ALiBi, training step and cached decoding) must still match the
//   CPU backend: every gradient and the decoding logits within BOUNDS.f32
//   (two f32 orderings of the same math, chained through a 2-layer model),
//   the loss within f32Reduction(C + V + B T): its depth, a C-long dot per
//   logit, a log-sum-exp over V and a mean over the B T targets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { backward } from '../../src/engine/autograd.js';
import { backend, cpuBackend, setBackend, setThreads, FUSED_OPS, type Backend } from '../../src/engine/backend.js';
import type { Storage } from '../../src/engine/dtype.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';
import { generate } from '../../src/infer/generate.js';
import { BOUNDS, f32Reduction } from '../../bench/kernels/index.js';
import { assertNmse } from '../helpers.js';

const FUSED_KERNELS = ['rmsnormFwd', 'rmsnormBwd', 'l2normFwd', 'l2normBwd', 'swigluFwd', 'swigluBwd', 'rope', 'xentFwd', 'xentBwd', 'attnFwd', 'attnBwd'] as const;

interface TestBackend extends Backend { calls: Map<string, number>; allocated: WeakSet<object>; freed: number }

function testBackend(fused: boolean): TestBackend {
  const calls = new Map<string, number>();
  const allocated = new WeakSet<object>();
  const b = { calls, allocated, freed: 0 } as unknown as TestBackend & Record<string, unknown>;
  for (const [k, v] of Object.entries(cpuBackend)) {
    b[k] = typeof v !== 'function' ? v : (...args: unknown[]) => {
      calls.set(k, (calls.get(k) ?? 0) + 1);
      return (v as (...a: unknown[]) => unknown)(...args);
    };
  }
  Object.assign(b, {
    name: fused ? 'counting' : 'fallback-only',
    supportsOp: () => fused,
    alloc: (dtype: Parameters<Backend['alloc']>[0], n: number) => {
      calls.set('alloc', (calls.get('alloc') ?? 0) + 1);
      const s = cpuBackend.alloc(dtype, n);
      allocated.add(s);
      return s;
    },
    free: (s: Storage) => {
      b.freed++;
      if (s instanceof Float32Array) s.fill(NaN);
    },
  });
  if (!fused) for (const k of FUSED_KERNELS) b[k] = () => { throw new Error(`${k} called on a backend that does not support it`); };
  return b;
}

function withBackend<T>(b: Backend, fn: () => T): T {
  setBackend(b);
  try { return fn(); } finally { setBackend(cpuBackend); }
}

function tinyModel(position: 'rope' | 'alibi'): BaichuanForCausalLM {
  const cfg = configFromJSON({ ...PRESETS.tiny, vocab_size: 96, hidden_size: 32, intermediate_size: 48, num_attention_heads: 4, position_embedding: position, z_loss_weight: 2e-4 });
  return new BaichuanForCausalLM(cfg).initWeights(3);
}

/** Loss and every parameter gradient of one training step on a fixed batch. */
function trainStep(position: 'rope' | 'alibi') {
  const model = tinyModel(position).train();
  const B = 2, T = 9;
  const ids = Tensor.from(Int32Array.from({ length: B * T }, (_, i) => (i * 37 + 5) % 96), [B, T], 'i32');
  const targets = Tensor.from(Int32Array.from({ length: B * T }, (_, i) => (i % T === 0 ? -100 : (i * 11 + 3) % 96)), [B, T], 'i32');
  const out = model.forward(ids, { targets });
  const loss = out.loss!;
  const graph = reachable(loss);
  backward(loss);
  const grads = new Map([...model.namedParameters()].map(([n, p]) => [n, p.grad!.f32().slice()]));
  return { loss: loss.item(), grads, graph };
}

/** Every tensor the loss was computed from (through the recorded graph). */
function reachable(root: Tensor): Tensor[] {
  const seen = new Set<Tensor>([root]);
  const stack = [root];
  while (stack.length) for (const t of stack.pop()!.gradFn?.inputs ?? []) if (t && !seen.has(t)) { seen.add(t); stack.push(t); }
  return [...seen];
}

for (const position of ['rope', 'alibi'] as const) {
  test(`${position}: a training step on the counting backend gives the CPU backend's bits, all through the seam`, () => {
    const ref = trainStep(position);
    const counting = testBackend(true);
    const got = withBackend(counting, () => trainStep(position));
    assert.equal(got.loss, ref.loss);
    for (const [n, g] of ref.grads) assert.deepEqual(got.grads.get(n), g, `gradient of ${n}`);
    for (const k of ['alloc', 'gemm', 'binary', 'gatherRows', 'scatterAddRows', 'attnFwd', 'attnBwd', 'rmsnormFwd', 'swigluFwd', 'xentFwd'])
      assert.ok((counting.calls.get(k) ?? 0) > 0, `${k} was never called through the backend`);
    if (position === 'rope') assert.ok(counting.freed > 0, 'the packed RoPE attention backward gave no scratch back');
    // every tensor the step computed lives in storage the backend allocated, on its device
    for (const t of got.graph) {
      assert.equal(t.device, counting.device);
      assert.ok(counting.allocated.has(t.data), `${t.gradFn?.op ?? 'leaf'} ${t.toString()}: storage not allocated by the backend`);
    }
  });

  test(`${position}: with supportsOp false every fused op takes its composed fallback and the model matches the CPU backend`, () => {
    const ref = trainStep(position);
    const only = testBackend(false);
    const got = withBackend(only, () => trainStep(position));
    for (const k of FUSED_KERNELS) assert.equal(only.calls.get(k), undefined, `${k} was called`);
    assert.ok((only.calls.get('softmaxFwd') ?? 0) > 0 && (only.calls.get('maxRows') ?? 0) > 0, 'the composed ops ran on the backend');
    assertNmse([got.loss], [ref.loss], f32Reduction(32 + 96 + 2 * 9), `${position} loss`);  // C, V, B T of tinyModel and trainStep
    for (const [n, g] of ref.grads) assertNmse(got.grads.get(n)!, g, BOUNDS.f32, `${position} gradient of ${n}`);
  });
}

test('the composed fallbacks are thread-count independent: one and all threads give the same bits', () => {
  const all = cpuBackend.threads();
  const many = withBackend(testBackend(false), () => trainStep('alibi'));
  setThreads(1);
  let one: ReturnType<typeof trainStep>;
  try { one = withBackend(testBackend(false), () => trainStep('alibi')); } finally { setThreads(all); }
  assert.equal(one.loss, many.loss);
  for (const [n, g] of many.grads) assert.deepEqual(one.grads.get(n), g, `gradient of ${n}`);
});

test('cached greedy decoding of padded prompts runs through the fallbacks and gives the CPU logits', () => {
  for (const position of ['rope', 'alibi'] as const) {
    const prompts = [[5, 17, 33, 2, 9], [40, 41]];
    const run = () => {
      const logits: Float32Array[] = [];
      const r = generate(tinyModel(position), prompts, { greedy: true, maxNewTokens: 4, eosTokenId: -1, onStep: (_t, l) => { logits.push(...l.map((x) => x.slice())); } });
      return { tokens: r.tokens, logits };
    };
    const ref = run();
    const got = withBackend(testBackend(false), run);
    assert.deepEqual(got.tokens, ref.tokens, `${position} tokens`);
    ref.logits.forEach((l, i) => assertNmse(got.logits[i]!, l, BOUNDS.f32, `${position} logits of step row ${i}`));
  }
});

test('the CPU backend names its device, supports every fused op, and the seam restores it', () => {
  assert.equal(backend(), cpuBackend);
  assert.equal(cpuBackend.device, 'cpu');
  for (const op of FUSED_OPS) assert.equal(cpuBackend.supportsOp(op), true);
  assert.equal(Tensor.zeros([2]).device, 'cpu');
  const s = cpuBackend.alloc('bf16', 3);
  assert.ok(s instanceof Uint16Array && s.length === 3);
  const host = new Uint16Array([1, 2, 3]);
  cpuBackend.upload(s, host);
  const back = new Uint16Array(3);
  cpuBackend.download(back, s);
  assert.deepEqual([...back], [1, 2, 3]);
});
