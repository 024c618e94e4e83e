// Pointwise arithmetic with NumPy broadcasting, SiLU and the fused SwiGLU.
// Compute is f32; a bf16/f16 result is rounded once at the end. Mixed float
// dtypes promote to f32. Reference: src/engine/ref/activation.ts.
import { Tensor, shapeStr, type Shape } from '../tensor.js';
import { record } from '../autograd.js';
import { expand, sumToShape } from './shape.js';
import { fromF32, resultDType } from './util.js';
import { backend } from '../backend.js';

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

function binary(a: Tensor, b: Tensor, op: string, f: (x: Float32Array, y: Float32Array, out: Float32Array) => void): { out: Tensor; shape: number[] } {
  const dtype = resultDType(op, a, b);
  const shape = broadcastShapes(a.shape, b.shape, op);
  const x = sameShape(a.shape, shape) ? a.f32() : expand(a.detach(), shape).f32();
  const y = sameShape(b.shape, shape) ? b.f32() : expand(b.detach(), shape).f32();
  const out = new Float32Array(x.length);
  f(x, y, out);
  return { out: fromF32(out, shape, dtype), shape };
}

export function add(a: Tensor, b: Tensor): Tensor {
  const { out } = binary(a, b, 'add', (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i]! + y[i]!; });
  return record(out, 'add', [a, b], (g) => [sumToShape(g, a.shape), sumToShape(g, b.shape)]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const { out } = binary(a, b, 'sub', (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i]! - y[i]!; });
  return record(out, 'sub', [a, b], (g) => [sumToShape(g, a.shape), b.requiresGrad ? sumToShape(scale(g, -1), b.shape) : null]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const { out, shape } = binary(a, b, 'mul', (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i]! * y[i]!; });
  return record(out, 'mul', [a, b], (g) => {
    const gv = g.f32();
    const grad = (other: Tensor, self: Tensor): Tensor | null => {
      if (!self.requiresGrad) return null;
      const ov = sameShape(other.shape, shape) ? other.f32() : expand(other.detach(), shape).f32();
      const r = new Float32Array(gv.length);
      for (let i = 0; i < r.length; i++) r[i] = gv[i]! * ov[i]!;
      return sumToShape(Tensor.from(r, shape), self.shape);
    };
    return [grad(b, a), grad(a, b)];
  });
}

export function scale(a: Tensor, s: number): Tensor {
  const dtype = resultDType('scale', a);
  const x = a.f32();
  const out = new Float32Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = x[i]! * s;
  return record(fromF32(out, a.shape, dtype), 'scale', [a], (g) => [scale(g, s)]);
}

export function silu(a: Tensor): Tensor {
  const dtype = resultDType('silu', a);
  const x = a.f32();
  const out = new Float32Array(x.length);
  backend().siluFwd(x, out);
  return record(fromF32(out, a.shape, dtype), 'silu', [a], (g) => {
    const dx = new Float32Array(x.length);
    backend().siluBwd(x, g.f32(), dx);
    return [Tensor.from(dx, a.shape)];
  });
}

/** silu(gate) * up, fused (the Baichuan MLP). gate and up have the same shape. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (!sameShape(gate.shape, up.shape)) throw new RangeError(`swiglu: gate ${shapeStr(gate.shape)} and up ${shapeStr(up.shape)} differ`);
  const dtype = resultDType('swiglu', gate, up);
  const g32 = gate.f32(), u32 = up.f32();
  const out = new Float32Array(g32.length);
  backend().swigluFwd(g32, u32, out);
  return record(fromF32(out, gate.shape, dtype), 'swiglu', [gate, up], (g) => {
    const dg = new Float32Array(g32.length), du = new Float32Array(g32.length);
    backend().swigluBwd(g32, u32, g.f32(), dg, du);
    return [Tensor.from(dg, gate.shape), Tensor.from(du, up.shape)];
  });
}
