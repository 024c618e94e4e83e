// Every fused op against its composed fallback (MLX's `fast` contract): the
// fallback, made of primitive autograd ops, is the specification; the fused
// kernel must agree with it in the forward and in every input gradient, on
// the same inputs, and both must agree with the float64 reference.
// Bounds (NMSE, bench/kernels/bounds.ts):
// - f32 forward and gradients, fused vs composed and vs float64: BOUNDS.f32.
//   Both are f32 computations that order their sums differently (online
//   softmax vs materialised scores, fused vs separate multiplies), a few f32
//   roundings per reduction level; gradients chain two to four of them.
// - scalars (the cross-entropy loss and its statistics): each path is a
//   log-sum-exp over V logits and a mean over the rows, within (V + rows)
//   roundings of the exact value, so two paths within twice that:
//   f32Reduction(2 (V + rows)).
// - bf16 cases: BF16.fwd = bf16Bound(2): each path rounds the normalised
//   value (or silu(gate)) and the product to bf16, so both lie within two
//   roundings of the exact value, and where an intermediate straddles a
//   rounding boundary the two paths differ by one bf16 step (2 x 2^-8).
//   BF16.grad = bf16Bound(3): the gradient is rounded to bf16 once more, and
//   the composed backward multiplies by the bf16-rounded intermediate
//   (bf16(x * rstd), bf16(silu(gate)): what PyTorch autograd over the
//   official code does) where the kernel uses the f32 value: one more 2^-8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/engine/tensor.js';
import { narrow, permute, reshape } from '../../src/engine/ops/shape.js';
import { rmsnorm, rmsnormComposed, l2normRows, l2normRowsComposed } from '../../src/engine/ops/norm.js';
import { rope, ropeComposed, ropeTables, alibiSlopes } from '../../src/engine/ops/position.js';
import { attention, attentionComposed, type AttentionOptions } from '../../src/engine/ops/attention.js';
import { packedSelfAttention, packedSelfAttentionComposed, type PackedAttentionOptions } from '../../src/engine/ops/packed-attention.js';
import { crossEntropy, crossEntropyComposed, type CrossEntropyStats } from '../../src/engine/ops/loss.js';
import { swiglu, swigluComposed } from '../../src/engine/ops/elementwise.js';
import { rmsnormRef, l2normRowsRef, ropeRef, attentionRef, crossEntropyRef, swigluRef } from '../../src/engine/ref/index.js';
import { BOUNDS, bf16Bound, f32Reduction } from '../../bench/kernels/index.js';
import { assertNmse, gradsOf, randArray } from '../helpers.js';

const FWD: number = BOUNDS.f32, GRAD: number = BOUNDS.f32;
const BF16 = { fwd: bf16Bound(2), grad: bf16Bound(3) };

type Build = (...ts: Tensor[]) => Tensor;

/** Forward and gradients of fused and composed on the same inputs, held to each other and the forward to `ref`. */
function agree(name: string, fused: Build, composed: Build, make: () => Tensor[], ref: ArrayLike<number> | null, tol = { fwd: FWD, grad: GRAD }): void {
  const yf = fused(...make()), yc = composed(...make());
  assert.deepEqual(yf.shape, yc.shape, `${name}: shapes`);
  assert.equal(yf.dtype, yc.dtype, `${name}: dtypes`);
  assertNmse(yf.f32(), yc.f32(), tol.fwd, `${name}: fused vs composed forward`);
  if (ref) {
    assertNmse(yf.f32(), ref, tol.fwd, `${name}: fused vs float64 reference`);
    assertNmse(yc.f32(), ref, tol.fwd, `${name}: composed vs float64 reference`);
  }
  const R = randArray(yf.size, 777);
  const gf = gradsOf(fused, make(), R), gc = gradsOf(composed, make(), R);
  gf.forEach((g, i) => assertNmse(g, gc[i]!, tol.grad, `${name}: gradient of input ${i}`));
}

test('rmsnorm: fused = composed = reference (f32, and a bf16 weight with the official cast order)', () => {
  const rows = 4, C = 96, eps = 1e-6;
  const x = randArray(rows * C, 1, 3), w = randArray(C, 2).map((v) => 1 + 0.2 * v);
  const mk = () => [Tensor.from(x, [2, 2, C]), Tensor.from(w)];
  agree('rmsnorm f32', (a, b) => rmsnorm(a!, b!, eps), (a, b) => rmsnormComposed(a!, b!, eps), mk, rmsnormRef(x, w, rows, C, eps));
  const wb = Tensor.from(w).astype('bf16');
  agree('rmsnorm bf16 weight', (a, b) => rmsnorm(a!, b!, eps), (a, b) => rmsnormComposed(a!, b!, eps),
    () => [Tensor.from(x, [rows, C]), wb.astype('bf16')], rmsnormRef(x, wb.f32(), rows, C, eps), BF16);
});

test('l2normRows: fused = composed = reference', () => {
  const rows = 5, C = 33;
  const x = randArray(rows * C, 3);
  agree('l2norm', (a) => l2normRows(a!), (a) => l2normRowsComposed(a!), () => [Tensor.from(x, [rows, C])], l2normRowsRef(x, rows, C));
});

test('rope: fused = composed = reference, contiguous and on a strided view, per-batch positions', () => {
  const B = 2, T = 5, H = 3, D = 8;
  const pos = Int32Array.from([0, 1, 2, 3, 4, 0, 0, 1, 2, 3]);
  const { cos, sin } = ropeTables(pos, D);
  const x = randArray(B * T * H * D, 4);
  agree('rope', (a) => rope(a!, cos, sin), (a) => ropeComposed(a!, cos, sin), () => [Tensor.from(x, [B, T, H, D])], ropeRef(x, B, T, H, D, pos));
  const big = randArray(B * T * 2 * H * D, 5);
  const slot = (t: Tensor) => reshape(narrow(reshape(t, [B, T, 2, H, D]), 2, 1, 1), [B, T, H, D]);
  const dense = slot(Tensor.from(big, [B * T * 2 * H * D])).f32();
  agree('rope strided', (a) => rope(slot(a!), cos, sin), (a) => ropeComposed(slot(a!), cos, sin), () => [Tensor.from(big, [big.length])], ropeRef(dense, B, T, H, D, pos));
});

interface AttnCase { name: string; B: number; H: number; Tq: number; Tk: number; D: number; opts: AttentionOptions }

const maskOf = (B: number, T: number, pad: number): Int32Array => Int32Array.from({ length: B * T }, (_, i) => (i % T < pad && i >= T ? 0 : 1));

const attnCases: AttnCase[] = [
  { name: 'causal', B: 2, H: 2, Tq: 6, Tk: 6, D: 8, opts: {} },
  { name: 'non-causal', B: 1, H: 2, Tq: 4, Tk: 7, D: 4, opts: { causal: false } },
  { name: 'decode with a cache (past 5)', B: 2, H: 2, Tq: 2, Tk: 7, D: 8, opts: { past: 5 } },
  { name: 'ALiBi with a left-padding key mask', B: 2, H: 4, Tq: 6, Tk: 6, D: 4, opts: { alibiSlopes: alibiSlopes(4), keyMask: maskOf(2, 6, 2) } },
  { name: 'ALiBi with key and query masks (13B padding)', B: 2, H: 2, Tq: 5, Tk: 5, D: 4, opts: { alibiSlopes: alibiSlopes(2), keyMask: maskOf(2, 5, 2), queryMask: maskOf(2, 5, 2) } },
];

test('attention: fused = composed = reference in every mask mode, with q/k/v gradients', () => {
  for (const c of attnCases) {
    const q = randArray(c.B * c.H * c.Tq * c.D, 10), k = randArray(c.B * c.H * c.Tk * c.D, 11), v = randArray(c.B * c.H * c.Tk * c.D, 12);
    const causal = c.opts.causal ?? true, past = c.opts.past ?? (causal ? c.Tk - c.Tq : 0);
    const ref = attentionRef(q, k, v, c.B, c.H, c.Tq, c.Tk, c.D, {
      causal, past, scale: 1 / Math.sqrt(c.D),
      ...(c.opts.alibiSlopes ? { slopes: c.opts.alibiSlopes } : {}), ...(c.opts.keyMask ? { keyMask: c.opts.keyMask } : {}), ...(c.opts.queryMask ? { queryMask: c.opts.queryMask } : {}),
    });
    const mk = () => [Tensor.from(q, [c.B, c.H, c.Tq, c.D]), Tensor.from(k, [c.B, c.H, c.Tk, c.D]), Tensor.from(v, [c.B, c.H, c.Tk, c.D])];
    agree(`attention ${c.name}`, (a, b, d) => attention(a!, b!, d!, c.opts), (a, b, d) => attentionComposed(a!, b!, d!, c.opts), mk, ref);
  }
});

test('packedSelfAttention: fused = composed with RoPE, with ALiBi and masks, and with packed segments', () => {
  const B = 2, T = 6, H = 2, D = 4, C = H * D;
  const x = randArray(B * T * 3 * C, 20);
  const pos = Int32Array.from({ length: B * T }, (_, i) => i % T);
  const variants: [string, PackedAttentionOptions][] = [
    ['rope', { rope: ropeTables(pos, D) }],
    ['alibi + masks', { alibiSlopes: alibiSlopes(H), keyMask: maskOf(B, T, 2), queryMask: maskOf(B, T, 2) }],
    ['rope + segments', { rope: ropeTables(pos, D), segments: Int32Array.from([0, 0, 2, 0, 2, 3, 1, 1, 5]) }],
  ];
  for (const [name, o] of variants)
    agree(`packed ${name}`, (a) => packedSelfAttention(a!, H, o), (a) => packedSelfAttentionComposed(a!, H, o), () => [Tensor.from(x, [B, T, 3 * C])], null);
  // the composed path equals the plain composition of views (and so the reference) without segments
  const o: PackedAttentionOptions = { rope: ropeTables(pos, D) };
  const viaViews = (t: Tensor) => {
    const part = (i: number) => permute(rope(reshape(narrow(t, 2, i * C, C), [B, T, H, D]), o.rope!.cos, o.rope!.sin), [0, 2, 1, 3]);
    const v = permute(reshape(narrow(t, 2, 2 * C, C), [B, T, H, D]), [0, 2, 1, 3]);
    return reshape(permute(attention(part(0), part(1), v), [0, 2, 1, 3]), [B, T, C]);
  };
  assertNmse(packedSelfAttentionComposed(Tensor.from(x, [B, T, 3 * C]), H, o).f32(), viaViews(Tensor.from(x, [B, T, 3 * C])).f32(), FWD, 'packed composed vs views');
});

test('crossEntropy: fused = composed = reference, with ignored targets and the max-z term; stats agree', () => {
  const rows = 6, V = 50;
  const x = randArray(rows * V, 30, 2);
  const t = Int32Array.from([3, -100, 49, 0, 7, -100]);
  const SCALAR = f32Reduction(2 * (V + rows));
  for (const zw of [0, 2e-4, 0.5]) {
    const sf: CrossEntropyStats = { ce: 0, z: 0, tokens: 0 }, sc: CrossEntropyStats = { ce: 0, z: 0, tokens: 0 };
    const targets = Tensor.from(t, [2, 3], 'i32');
    agree(`crossEntropy zw=${zw}`, (a) => crossEntropy(a!, targets, { zLossWeight: zw }, sf), (a) => crossEntropyComposed(a!, targets, { zLossWeight: zw }, sc),
      () => [Tensor.from(x, [2, 3, V])], [crossEntropyRef(x, t, rows, V, -100, zw)], { fwd: SCALAR, grad: GRAD });
    assert.equal(sf.tokens, 4);
    assert.equal(sc.tokens, 4);
    assertNmse([sc.ce], [sf.ce], SCALAR, `crossEntropy zw=${zw} stats: ce`);
    assertNmse([sc.z], [sf.z], SCALAR, `crossEntropy zw=${zw} stats: z`);
  }
  // every target ignored: NaN loss on both paths, and the z term alone carries gradient
  const all = Tensor.from(new Int32Array(rows).fill(-100), [rows], 'i32');
  assert.ok(Number.isNaN(crossEntropy(Tensor.from(x, [rows, V]), all).item()));
  assert.ok(Number.isNaN(crossEntropyComposed(Tensor.from(x, [rows, V]), all).item()));
});

test('swiglu: fused = composed = reference (f32; bf16 within one bf16 rounding)', () => {
  const n = 300;
  const g = randArray(n, 40, 3), u = randArray(n, 41);
  const ref = Float64Array.from(g, (gi, i) => swigluRef(gi, u[i]!));
  agree('swiglu', (a, b) => swiglu(a!, b!), (a, b) => swigluComposed(a!, b!), () => [Tensor.from(g, [3, 100]), Tensor.from(u, [3, 100])], ref);
  const gb = Tensor.from(g, [n]).astype('bf16'), ub = Tensor.from(u, [n]).astype('bf16');
  const refB = Float64Array.from(gb.f32(), (gi, i) => swigluRef(gi, ub.f32()[i]!));
  agree('swiglu bf16', (a, b) => swiglu(a!, b!), (a, b) => swigluComposed(a!, b!), () => [gb.astype('bf16'), ub.astype('bf16')], refB, BF16);
});
