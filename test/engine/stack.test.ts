// A 2-layer Baichuan-shaped stack (embedding, RMSNorm, W_pack, RoPE or ALiBi
// attention, o_proj, SwiGLU MLP, final norm, NormHead, CE + max-z) built from
// the engine's ops overfits one batch: the ops and their gradients compose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { narrow, permute, reshape } from '../../src/engine/ops/shape.js';
import { Rng } from '../../src/engine/rng.js';
import { embedding } from '../../src/engine/ops/embedding.js';
import { rmsnorm, l2normRows } from '../../src/engine/ops/norm.js';
import { linear } from '../../src/engine/ops/matmul.js';
import { rope, ropeTables, alibiSlopes } from '../../src/engine/ops/position.js';
import { attention } from '../../src/engine/ops/attention.js';
import { add, swiglu } from '../../src/engine/ops/elementwise.js';
import { crossEntropy } from '../../src/engine/ops/loss.js';
import { backward } from '../../src/engine/autograd.js';
import { adamwStep, newAdamWSlot, clipGradNorm, type AdamWSlot } from '../../src/engine/ops/optim.js';

function overfit(position: 'rope' | 'alibi'): number[] {
  const V = 64, C = 32, H = 4, D = 8, F = 96, L = 2, B = 2, T = 16;
  const rng = new Rng(1);
  const p = (shape: number[], std = 0.02) => Tensor.randn(shape, { rng, std }).requiresGrad_();
  const params = {
    embed: p([V, C]),
    layers: Array.from({ length: L }, () => ({
      ln1: Tensor.ones([C]).requiresGrad_(), wPack: p([3 * C, C]), oProj: p([C, C]),
      ln2: Tensor.ones([C]).requiresGrad_(), gate: p([F, C]), up: p([F, C]), down: p([C, F]),
    })),
    norm: Tensor.ones([C]).requiresGrad_(),
    head: p([V, C], 0.5),
  };
  const all = [params.embed, params.norm, params.head, ...params.layers.flatMap((l) => Object.values(l))];
  const ids = Int32Array.from({ length: B * (T + 1) }, () => rng.int(V));
  const inp = new Int32Array(B * T), tgt = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) { inp[b * T + t] = ids[b * (T + 1) + t]!; tgt[b * T + t] = ids[b * (T + 1) + t + 1]!; }
  const x0 = Tensor.from(inp, [B, T], 'i32'), y = Tensor.from(tgt, [B * T], 'i32');
  const tables = ropeTables(Array.from({ length: T }, (_, i) => i), D);
  const slopes = alibiSlopes(H);
  const slots = new Map<Tensor, AdamWSlot>(all.map((t) => [t, newAdamWSlot(t)]));
  const losses: number[] = [];
  for (let step = 1; step <= 120; step++) {
    let h = embedding(x0, params.embed);
    for (const l of params.layers) {
      const qkv = reshape(linear(rmsnorm(h, l.ln1, 1e-6), l.wPack), [B, T, 3, H, D]);
      let q = reshape(narrow(qkv, 2, 0, 1), [B, T, H, D]), k = reshape(narrow(qkv, 2, 1, 1), [B, T, H, D]);
      const v = reshape(narrow(qkv, 2, 2, 1), [B, T, H, D]);
      if (position === 'rope') { q = rope(q, tables.cos, tables.sin); k = rope(k, tables.cos, tables.sin); }
      const a = attention(permute(q, [0, 2, 1, 3]), permute(k, [0, 2, 1, 3]), permute(v, [0, 2, 1, 3]), { alibiSlopes: position === 'alibi' ? slopes : undefined });
      h = add(h, linear(reshape(permute(a, [0, 2, 1, 3]), [B, T, C]), l.oProj));
      const n2 = rmsnorm(h, l.ln2, 1e-6);
      h = add(h, linear(swiglu(linear(n2, l.gate), linear(n2, l.up)), l.down));
    }
    const logits = linear(rmsnorm(h, params.norm, 1e-6), l2normRows(params.head));
    const loss = crossEntropy(reshape(logits, [B * T, V]), y, { zLossWeight: 2e-4 });
    losses.push(loss.item());
    for (const t of all) t.grad = null;
    backward(loss);
    clipGradNorm(all, 1.0);
    for (const t of all) adamwStep(t, slots.get(t)!, step, { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 });
  }
  return losses;
}

for (const position of ['rope', 'alibi'] as const) {
  test(`2-layer ${position} stack overfits one batch (loss < 0.1)`, () => {
    const losses = overfit(position);
    // NormHead logits are cosines times |h| ~ sqrt(C): unit-scale noise puts the start a little above ln V.
    assert.ok(losses[0]! > Math.log(64) && losses[0]! < Math.log(64) + 1.5, `initial loss ${losses[0]} should be just above ln V = ${Math.log(64).toFixed(3)}`);
    const last = losses[losses.length - 1]!;
    assert.ok(last < 0.1, `final loss ${last} (curve: ${losses.filter((_, i) => i % 20 === 0).map((l) => l.toFixed(3)).join(' ')})`);
  });
}
