// A row's result must not depend on what else is in its batch: the length the
// batch is padded to, or the rows beside it. DPO's exact ln 2 at step 1 and the
// server's batch-independent output rest on it. Checked on every kernel build
// this CPU runs (attention's online-softmax sum once depended on where a key
// block ended, on the AVX-512 builds only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { contiguous, narrow } from '../../src/engine/ops/shape.js';
import { noGrad } from '../../src/engine/autograd.js';
import { packedSelfAttention } from '../../src/engine/ops/packed-attention.js';
import { kernelInfo, setKernels } from '../../src/engine/backend.js';
import type { KernelBuild } from '../../src/engine/native.js';
import { BaichuanForCausalLM } from '../../src/model/baichuan.js';
import { configFromJSON, PRESETS } from '../../src/model/config.js';

const builds = kernelInfo().supported as KernelBuild[];
const active = kernelInfo().arch as KernelBuild;

function maxDiff(a: Float32Array, b: Float32Array, n: number): number {
  let d = 0;
  for (let i = 0; i < n; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

test('attention and the model give a row the same bits alone, padded longer, and beside other rows (every build)', () => {
  const C = 64, H = 4, L = 30;
  const cfg = configFromJSON({ ...PRESETS.tiny, vocab_size: 300, hidden_size: C, intermediate_size: 192, num_attention_heads: H });
  const model = new BaichuanForCausalLM(cfg).initWeights(3);
  model.eval();
  const ids = Array.from({ length: L }, (_, i) => (i * 7 + 3) % 300);
  try {
    for (const b of builds) {
      setKernels(b);
      noGrad(() => {
        for (const T of [31, 64, 65, 70, 130]) {
          const big = Tensor.randFast([1, T, 3 * C], 9 + T, -1, 1);
          const small = contiguous(narrow(big, 1, 0, L));
          const km = Int32Array.from({ length: T }, (_, i) => (i < L ? 1 : 0));
          const alone = packedSelfAttention(small, H).f32();
          assert.equal(maxDiff(alone, packedSelfAttention(big, H).f32(), L * C), 0, `${b}: attention, T ${L} vs ${T}`);
          assert.equal(maxDiff(alone, packedSelfAttention(big, H, { keyMask: km }).f32(), L * C), 0, `${b}: attention, key-padded to ${T}`);
        }
        const one = model.forward(Tensor.from(ids, [1, L], 'i32')).logits.f32();
        for (const [B, T] of [[2, 70], [1, 130], [3, 130]] as const) {
          const rows: number[] = [], mask: number[] = [];
          for (let r = 0; r < B; r++) {
            if (r === B - 1) { rows.push(...ids, ...Array(T - L).fill(0)); mask.push(...ids.map(() => 1), ...Array(T - L).fill(0)); }
            else { rows.push(...Array.from({ length: T }, (_, i) => (i * 13 + r) % 300)); mask.push(...Array(T).fill(1)); }
          }
          const out = model.forward(Tensor.from(rows, [B, T], 'i32'), { attentionMask: mask }).logits.f32();
          assert.equal(maxDiff(one, out.subarray((B - 1) * T * 300), L * 300), 0, `${b}: model logits, row ${B - 1} of ${B} x ${T}`);
        }
      });
    }
  } finally {
    setKernels(active);
  }
});
