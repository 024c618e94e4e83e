// Pointwise arithmetic with NumPy broadcasting, unary maths, SiLU and the
// fused SwiGLU. Compute is f32 on the backend; a bf16/f16 result is rounded
// once at the end. Mixed float dtypes promote to f32. Backward passes are
// written with these same ops (they run with recording off), so they reach
// the backend too.
// Reference: src/engine/ref/activation.ts.
import { Tensor, shapeStr, type Shape } from '../tensor.js';
import { record } from '../autograd.js';
import { expand, sumToShape } from './shape.js';
import { f32Buffer, freeCopy, fromF32, resultDType } from './util.js';
import { backend, type BinaryOp, type UnaryOp } from '../backend.js';

export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new RangeError(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast`);
    out[i] = x === 1 ? y : x;
  }
  return out;
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** t's values broadcast to `shape`, as a contiguous f32 array. */
function valuesAt(t: Tensor, shape: Shape): Float32Array {
  return sameShape(t.shape, shape) ? t.f32() : expand(t.detach(), shape).f32();
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): { out: Tensor; shape: number[] } {
  const dtype = resultDType(op, a, b);
  const shape = broadcastShapes(a.shape, b.shape, op);
  const x = valuesAt(a, shape), y = valuesAt(b, shape);
  const out = f32Buffer(x.length);
  backend().binary(op, x, y, out);
  freeCopy(a, x);
  if (y !== x) freeCopy(b, y);
  return { out: fromF32(out, shape, dtype, true), shape };
}

export function add(a: Tensor, b: Tensor): Tensor {
  const { out } = binary('add', a, b);
  return record(out, 'add', [a, b], (g) => [sumToShape(g, a.shape), sumToShape(g, b.shape)]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const { out } = binary('sub', a, b);
  return record(out, 'sub', [a, b], (g) => [sumToShape(g, a.shape), b.requiresGrad ? sumToShape(scale(g, -1), b.shape) : null]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const { out } = binary('mul', a, b);
  return record(out, 'mul', [a, b], (g) => [
    a.requiresGrad ? sumToShape(mul(g, b), a.shape) : null,
    b.requiresGrad ? sumToShape(mul(g, a), b.shape) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const { out } = binary('div', a, b);
  return record(out, 'div', [a, b], (g) => {
    const ga = div(g, b);  // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b
    return [a.requiresGrad ? sumToShape(ga, a.shape) : null, b.requiresGrad ? sumToShape(scale(mul(ga, div(a, b)), -1), b.shape) : null];
  });
}

/** Element-wise maximum; the gradient goes to a where a >= b (ties to a, as torch.clamp_min passes it to the input). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  const { out, shape } = binary('maximum', a, b);
  return record(out, 'maximum', [a, b], (g) => {
    const x = valuesAt(a, shape), y = valuesAt(b, shape);
    const takeA = f32Buffer(x.length), takeB = f32Buffer(x.length);
    for (let i = 0; i < x.length; i++) { const s = x[i]! >= y[i]! || Number.isNaN(x[i]!) ? 1 : 0; takeA[i] = s; takeB[i] = 1 - s; }
    return [a.requiresGrad ? sumToShape(mul(g, Tensor.from(takeA, shape)), a.shape) : null, b.requiresGrad ? sumToShape(mul(g, Tensor.from(takeB, shape)), b.shape) : null];
  });
}

/** a * s + c for numbers s and c. */
export function affine(a: Tensor, s: number, c: number): Tensor {
  const dtype = resultDType('affine', a);
  const out = f32Buffer(a.size);
  const x = a.f32();
  backend().affine(x, s, c, out);
  freeCopy(a, x);
  return record(fromF32(out, a.shape, dtype, true), c === 0 ? 'scale' : 'affine', [a], (g) => [scale(g, s)]);
}

export function scale(a: Tensor, s: number): Tensor {
  return affine(a, s, 0);
}

function unary(op: UnaryOp, a: Tensor, grad: (g: Tensor, x: Tensor, y: Tensor) => Tensor): Tensor {
  const dtype = resultDType(op, a);
  const out = f32Buffer(a.size);
  const x = a.f32();
  backend().unary(op, x, out);
  freeCopy(a, x);
  const y = fromF32(out, a.shape, dtype, true);
  return record(y, op, [a], (g) => [grad(g, a, y)]);
}

export function exp(a: Tensor): Tensor { return unary('exp', a, (g, _x, y) => mul(g, y)); }
export function log(a: Tensor): Tensor { return unary('log', a, (g, x) => div(g, x)); }
export function sqrt(a: Tensor): Tensor { return unary('sqrt', a, (g, _x, y) => div(scale(g, 0.5), y)); }
/** 1 / sqrt(a); gradient -0.5 g y^3. */
export function rsqrt(a: Tensor): Tensor { return unary('rsqrt', a, (g, _x, y) => scale(mul(g, mul(y, mul(y, y))), -0.5)); }

export function silu(a: Tensor): Tensor {
  const dtype = resultDType('silu', a);
  const x = a.f32();
  const out = f32Buffer(x.length);
  backend().siluFwd(x, out);
  return record(fromF32(out, a.shape, dtype), 'silu', [a], (g) => {
    const dx = f32Buffer(x.length);
    backend().siluBwd(x, g.f32(), dx);
    return [Tensor.from(dx, a.shape)];
  });
}

/** silu(gate) * up, fused (the Baichuan MLP). gate and up have the same shape. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (!sameShape(gate.shape, up.shape)) throw new RangeError(`swiglu: gate ${shapeStr(gate.shape)} and up ${shapeStr(up.shape)} differ`);
  if (!backend().supportsOp('swiglu')) return swigluComposed(gate, up);
  const dtype = resultDType('swiglu', gate, up);
  const g32 = gate.f32(), u32 = up.f32();
  const out = f32Buffer(g32.length);
  backend().swigluFwd(g32, u32, out);
  return record(fromF32(out, gate.shape, dtype, true), 'swiglu', [gate, up], (g) => {
    const dg = f32Buffer(g32.length), du = f32Buffer(g32.length);
    backend().swigluBwd(g32, u32, g.f32(), dg, du);
    return [Tensor.from(dg, gate.shape), Tensor.from(du, up.shape)];
  });
}

/** The specification of swiglu from primitives: silu(gate) * up. */
export function swigluComposed(gate: Tensor, up: Tensor): Tensor {
  return mul(silu(gate), up);
}
