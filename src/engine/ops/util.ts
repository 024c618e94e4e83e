// Small helpers shared by the op files: dtype rules, backend-allocated
// buffers and f32 -> dtype results.
import { Tensor, type Shape } from '../tensor.js';
import type { DType } from '../dtype.js';
import { backend } from '../backend.js';

/** Float ops: equal dtypes keep theirs, mixed float dtypes give f32; integers are refused. */
export function resultDType(op: string, ...ts: Tensor[]): DType {
  for (const t of ts) if (t.dtype === 'i32') throw new TypeError(`${op}: expected a float tensor, got i32 ${t.toString()}`);
  const d = ts[0]!.dtype;
  return ts.every((t) => t.dtype === d) ? d : 'f32';
}

/** A zero-filled f32 buffer of n elements from the active backend. */
export function f32Buffer(n: number): Float32Array {
  return backend().alloc('f32', n) as Float32Array;
}

/** An i32 buffer of n elements from the active backend. */
export function i32Buffer(n: number): Int32Array {
  return backend().alloc('i32', n) as Int32Array;
}

/**
 * Wrap f32 results, rounding to `dtype` when it is a 16-bit float. `scratch`:
 * the caller keeps no reference to x, so once rounded it goes back to the
 * backend (reused by the next allocation of its size).
 */
export function fromF32(x: Float32Array, shape: Shape, dtype: DType, scratch = false): Tensor {
  const t = Tensor.from(x, shape, 'f32');
  if (dtype === 'f32') return t;
  const r = t.astype(dtype);
  if (scratch) backend().free(x);
  return r;
}

/** Give back `copy` when it is a copy of t's values (t.f32() of a non-f32 or strided tensor), not t's own storage. */
export function freeCopy(t: Tensor, copy: Float32Array): void {
  if (copy.buffer !== t.data.buffer) backend().free(copy);
}
