// RoPE and attention at the op layer: ALiBi slopes, RoPE tables and
// per-batch positions, strided views reaching the kernels, the 13B query-mask
// semantics through autograd, packed self-attention, input validation. The
// attention and RoPE kernels in every mask mode (causal and not, KV-cache
// offsets, T = 1, ALiBi with 40 heads, padding masks, long rows), forward and
// backward by finite differences, and their thread-count independence are
// rows of the kernel table (bench/kernels/attention.ts, elementwise.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { narrow, permute, reshape } from '../../src/engine/ops/shape.js';
import { attention } from '../../src/engine/ops/attention.js';
import { rope, ropeTables, alibiSlopes } from '../../src/engine/ops/position.js';
import { attentionRef, ropeRef } from '../../src/engine/ref/index.js';
import { BOUNDS, f32Reduction, fd } from '../../bench/kernels/index.js';
import { assertNmse, gradsOf, randArray, dotWith, maxAbsDiff } from '../helpers.js';

const FWD = BOUNDS.f32, BWD = BOUNDS.fd;

test('ALiBi slopes: powers of two, 40 heads (SPEC §4.6) and 6 heads', () => {
  const s8 = alibiSlopes(8);
  assert.deepEqual(Array.from(s8), Array.from({ length: 8 }, (_, h) => Math.fround(2 ** (-(h + 1)))));
  const s40 = alibiSlopes(40);
  // the slopes are the f32 roundings of the closed forms
  assert.deepEqual(Array.from(s40), [...Array.from({ length: 32 }, (_, h) => Math.fround(2 ** (-(h + 1) / 4))), ...Array.from({ length: 8 }, (_, k) => Math.fround(2 ** (-(2 * k + 1) / 8)))]);
  assert.deepEqual(Array.from(alibiSlopes(6)), [1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]);
  assert.throws(() => alibiSlopes(0), /positive integer/);
});

test('RoPE forward, backward and per-batch positions', () => {
  const B = 2, T = 5, H = 3, D = 8;
  const x = randArray(B * T * H * D, 1);
  const pos = Int32Array.from([0, 1, 2, 3, 4, 0, 0, 1, 2, 3]);  // row 1 left-padded
  const { cos, sin } = ropeTables(pos, D);
  const y = rope(Tensor.from(x, [B, T, H, D]), cos, sin);
  assertNmse(y.f32(), ropeRef(x, B, T, H, D, pos), FWD, 'rope');
  const R = randArray(x.length, 2);
  const [g] = gradsOf((a) => rope(a!, cos, sin), [Tensor.from(x, [B, T, H, D])], R);
  assertNmse(g!, fd((v) => dotWith(ropeRef(v, B, T, H, D, pos), R), x), BWD, 'rope dx');
  // strided input: a [B, T, 2, H, D] buffer viewed at slot 1
  const big = randArray(B * T * 2 * H * D, 3);
  const view = reshape(narrow(Tensor.from(big, [B, T, 2, H, D]), 2, 1, 1), [B, T, H, D]);
  const dense = view.f32();
  assertNmse(rope(view, cos, sin).f32(), ropeRef(dense, B, T, H, D, pos), FWD, 'rope strided');
  // long positions: fp32 tables stay exact where bf16 positions would collide (SPEC §4.5)
  const far = ropeTables([4095], 128);
  assertNmse(far.cos.subarray(0, 1), [Math.cos(4095)], f32Reduction(1), 'cos at position 4095 (one f32 rounding)');
});

test('padding queries with a query mask attend uniformly (13B semantics), and get no q/k gradient', () => {
  const B = 2, H = 2, T = 5, D = 4;
  const q = randArray(B * H * T * D, 40), k = randArray(B * H * T * D, 41), v = randArray(B * H * T * D, 42);
  const keyMask = Int32Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  const slopes = alibiSlopes(H);
  const opts = { alibiSlopes: slopes, keyMask, queryMask: keyMask };
  const sh = [B, H, T, D];
  const o = attention(Tensor.from(q, sh), Tensor.from(k, sh), Tensor.from(v, sh), opts);
  const ro = { causal: true, past: 0, scale: 1 / 2, slopes, keyMask, queryMask: keyMask };
  assertNmse(o.f32(), attentionRef(q, k, v, B, H, T, T, D, ro), FWD, 'query mask');
  const R = randArray(q.length, 43);
  const [gq, gk, gv] = gradsOf((a, b, c) => attention(a!, b!, c!, opts), [Tensor.from(q, sh), Tensor.from(k, sh), Tensor.from(v, sh)], R);
  assertNmse(gq!, fd((x) => dotWith(attentionRef(x, k, v, B, H, T, T, D, ro), R), q), BWD, 'dq');
  assertNmse(gk!, fd((x) => dotWith(attentionRef(q, x, v, B, H, T, T, D, ro), R), k), BWD, 'dk');
  assertNmse(gv!, fd((x) => dotWith(attentionRef(q, k, x, B, H, T, T, D, ro), R), v), BWD, 'dv');
});

test('attention on strided q/k/v views of one packed [B, T, 3, H, D] buffer', () => {
  const B = 2, T = 6, H = 3, D = 4;
  const packed = Tensor.from(randArray(B * T * 3 * H * D, 20), [B, T, 3, H, D]);
  const part = (i: number) => permute(reshape(narrow(packed, 2, i, 1), [B, T, H, D]), [0, 2, 1, 3]);
  const q = part(0), k = part(1), v = part(2);
  assert.equal(q.isContiguous(), false);
  const o = attention(q, k, v);
  const ref = attentionRef(q.f32(), k.f32(), v.f32(), B, H, T, T, D, { causal: true, past: 0, scale: 1 / 2 });
  assertNmse(o.f32(), ref, FWD, 'strided');
  // the output is stored [B, T, H, D]: merging heads is a free view
  assert.equal(permute(o, [0, 2, 1, 3]).isContiguous(), true);
});

test('attention validates its inputs', () => {
  assert.throws(() => attention(Tensor.zeros([1, 2, 3, 4]), Tensor.zeros([1, 2, 3, 5]), Tensor.zeros([1, 2, 3, 5])), /attention: k \[1, 2, 3, 5\] does not match q \[1, 2, 3, 4\]/);
  assert.throws(() => attention(Tensor.zeros([1, 2, 4, 4]), Tensor.zeros([1, 2, 3, 4]), Tensor.zeros([1, 2, 3, 4])), /exceeds the 3 keys/);
  assert.throws(() => attention(Tensor.zeros([1, 2, 3, 4]), Tensor.zeros([1, 2, 3, 4]), Tensor.zeros([1, 2, 3, 4]), { alibiSlopes: new Float32Array(3) }), /3 ALiBi slopes for 2 heads/);
});

test('packedSelfAttention equals rope + attention on head views, forward and backward', async () => {
  const { packedSelfAttention } = await import('../../src/engine/ops/packed-attention.js');
  const { sum } = await import('../../src/engine/ops/reduce.js');
  const { mul } = await import('../../src/engine/ops/elementwise.js');
  const { backward } = await import('../../src/engine/autograd.js');
  const B = 2, T = 7, H = 3, D = 4, C = H * D;
  const x = randArray(B * T * 3 * C, 70), R = Tensor.from(randArray(B * T * C, 71), [B, T, C]);
  const pos = Int32Array.from({ length: B * T }, (_, i) => i % T);
  const tables = ropeTables(pos, D);
  const keyMask = Int32Array.from({ length: B * T }, (_, i) => (i === T || i === T + 1 ? 0 : 1));
  for (const variant of ['rope', 'alibi'] as const) {
    const opts = variant === 'rope' ? { rope: tables, keyMask } : { alibiSlopes: alibiSlopes(H), keyMask, queryMask: keyMask };
    const a = Tensor.from(x.slice(), [B, T, 3 * C]).requiresGrad_();
    const ya = packedSelfAttention(a, H, opts);
    backward(sum(mul(ya, R)));
    const b = Tensor.from(x.slice(), [B, T, 3 * C]).requiresGrad_();
    const p = reshape(b, [B, T, 3, H, D]);
    let q = reshape(narrow(p, 2, 0, 1), [B, T, H, D]), k = reshape(narrow(p, 2, 1, 1), [B, T, H, D]);
    const v = reshape(narrow(p, 2, 2, 1), [B, T, H, D]);
    if (variant === 'rope') { q = rope(q, tables.cos, tables.sin); k = rope(k, tables.cos, tables.sin); }
    const yb = reshape(permute(attention(permute(q, [0, 2, 1, 3]), permute(k, [0, 2, 1, 3]), permute(v, [0, 2, 1, 3]), variant === 'rope' ? { keyMask } : { alibiSlopes: alibiSlopes(H), keyMask, queryMask: keyMask }), [0, 2, 1, 3]), [B, T, C]);
    backward(sum(mul(yb, R)));
    // bit-identical (up to the sign of zero): the same kernels see the same numbers
    assert.equal(maxAbsDiff(ya.f32(), yb.f32()), 0, `${variant} forward`);
    assert.equal(maxAbsDiff(a.grad!.f32(), b.grad!.f32()), 0, `${variant} gradient`);
  }
});
