// Small helpers shared by the op files: dtype rules and f32 -> dtype results.
import { Tensor, type Shape } from '../tensor.js';
import type { DType } from '../dtype.js';
import { cast } from './shape.js';

/** Float ops: equal dtypes keep theirs, mixed float dtypes give f32; integers are refused. */
export function resultDType(op: string, ...ts: Tensor[]): DType {
  for (const t of ts) if (t.dtype === 'i32') throw new TypeError(`${op}: expected a float tensor, got i32 ${t.toString()}`);
  const d = ts[0]!.dtype;
  return ts.every((t) => t.dtype === d) ? d : 'f32';
}

/** Wrap f32 results, rounding to `dtype` when it is a 16-bit float. */
export function fromF32(x: Float32Array, shape: Shape, dtype: DType): Tensor {
  const t = Tensor.from(x, shape, 'f32');
  return dtype === 'f32' ? t : cast(t, dtype).detach();
}
