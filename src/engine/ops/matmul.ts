// Batched matrix multiply and Linear. A transposed operand (e.g. the
// [out, in] weight of a Linear seen as [in, out]) is passed to the GEMM
// kernel as a transpose flag with its leading dimension: no copy. bf16
// operands go to the kernel as raw bits and are widened while packing, with
// f32 accumulation. Reference: src/engine/ref/matmul.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record, noGrad, ownedGrad } from '../autograd.js';
import { backend } from '../backend.js';
import { f32Buffer, fromF32, resultDType } from './util.js';
import { reshape, transpose } from './shape.js';

interface Operand {
  data: Float32Array | Uint16Array;
  trans: boolean;
  ld: number;
  batchStride: number;
  /** A copy made for the kernel (given back to the backend after the call), or null. */
  scratch: Float32Array | Uint16Array | null;
}

/** Describe the last two dims of t for the kernel, copying only when the layout has no BLAS form. */
function operand(t: Tensor, batch: number): Operand {
  let x = t;
  if (x.dtype !== 'f32' && x.dtype !== 'bf16') x = x.astype('f32');
  let copied = x !== t;
  const nd = x.ndim;
  const r = x.shape[nd - 2]!, c = x.shape[nd - 1]!;
  const sr = x.strides[nd - 2]!, sc = x.strides[nd - 1]!;
  let trans: boolean | null = null, ld = 0;
  if (sc === 1 && (sr >= c || r === 1)) { trans = false; ld = r === 1 ? c : sr; }
  else if (sr === 1 && (sc >= r || c === 1)) { trans = true; ld = c === 1 ? r : sc; }
  // batch dims must collapse into one uniform stride
  const collapsed = nd > 2 ? collapsedStride(x, nd - 2) : 0;
  if (collapsed === null) trans = null;
  let batchStride = collapsed ?? 0;
  if (trans === null) {
    x = x.astype(x.dtype);
    copied = true;
    trans = false;
    ld = c;
    batchStride = r * c;
  }
  const data = x.data as Float32Array | Uint16Array;
  return { data: data.subarray(x.offset), trans, ld, batchStride: nd > 2 ? batchStride : 0, scratch: copied ? data : null };
}

/** a [..., M, K] @ b [..., K, N] (b may also be [K, N], shared by every batch). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim < 2 || b.ndim < 2) throw new RangeError(`matmul: operands must have at least 2 dims, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const dtype = resultDType('matmul', a, b);
  const M = a.shape[a.ndim - 2]!, K = a.shape[a.ndim - 1]!, N = b.shape[b.ndim - 1]!;
  if (b.shape[b.ndim - 2] !== K) throw new RangeError(`matmul: inner dims differ: ${shapeStr(a.shape)} @ ${shapeStr(b.shape)}`);
  const batchShape = a.shape.slice(0, -2);
  if (b.ndim > 2 && (b.ndim !== a.ndim || b.shape.slice(0, -2).some((d, i) => d !== batchShape[i])))
    throw new RangeError(`matmul: batch dims of ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ (b must be 2-D or share a's batch dims)`);
  const batch = batchShape.reduce((p, d) => p * d, 1);
  const outShape = [...batchShape, M, N];
  const C = f32Buffer(batch * M * N);
  // A shared 2-D b and row-major a: fold the batch into M for one large GEMM.
  const foldable = b.ndim === 2 && a.ndim > 2 && canFoldRows(a);
  const A = foldable ? operand(reshape(a.detach(), [batch * M, K]), 1) : operand(a, batch);
  const B = operand(b, batch);
  backend().gemm({
    transA: A.trans, transB: B.trans,
    M: foldable ? batch * M : M, N, K, alpha: 1, beta: 0,
    A: A.data, lda: A.ld, strideA: A.batchStride,
    B: B.data, ldb: B.ld, strideB: b.ndim === 2 ? 0 : B.batchStride,
    C, ldc: N, strideC: M * N, batch: foldable ? 1 : batch,
  });
  for (const op of [A, B]) if (op.scratch) backend().free(op.scratch);
  return record(fromF32(C, outShape, dtype, true), 'matmul', [a, b], (g) => {
    const ga = a.requiresGrad ? matmul(g, transpose(b, -1, -2)) : null;
    let gb: Tensor | null = null;
    if (b.requiresGrad) {
      if (b.ndim === 2 && a.ndim > 2) {
        gb = matmul(transpose(reshape(a, [batch * M, K]), 0, 1), reshape(g, [batch * M, N]));
      } else {
        gb = matmul(transpose(a, -1, -2), g);
      }
    }
    return [ga, gb];
  });
}

/**
 * The single stride that walks dims [0, n) of t as one index, or null when
 * they do not collapse (0 when all have size 1). Dims of size 1 are skipped:
 * their strides are arbitrary (a narrow or reshape may leave any value).
 */
function collapsedStride(t: Tensor, n: number): number | null {
  const dims: [number, number][] = [];
  for (let d = 0; d < n; d++) if (t.shape[d] !== 1) dims.push([t.shape[d]!, t.strides[d]!]);
  if (dims.length === 0) return 0;
  for (let i = 0; i + 1 < dims.length; i++) if (dims[i]![1] !== dims[i + 1]![1] * dims[i + 1]![0]) return null;
  return dims[dims.length - 1]![1];
}

/** True when a's batch dims and rows share one row stride (so [..., M, K] is a [batch*M, K] matrix). */
function canFoldRows(a: Tensor): boolean {
  const nd = a.ndim;
  if (a.strides[nd - 1] !== 1) return false;
  const s = collapsedStride(a, nd - 1);
  return s !== null && (s === 0 || s >= a.shape[nd - 1]!);
}

/**
 * x [..., in] @ weight [out, in]^T, no bias (Baichuan's Linears have none).
 * Its own op so that the weight gradient is computed directly in the [out, in]
 * layout (dW = g^T x) rather than as a transposed product copied back.
 */
export function linear(x: Tensor, weight: Tensor): Tensor {
  if (weight.ndim !== 2 || x.ndim < 1 || x.dim(-1) !== weight.shape[1])
    throw new RangeError(`linear: input ${shapeStr(x.shape)} does not match weight ${shapeStr(weight.shape)} ([out, in])`);
  const y = noGrad(() => matmul(x.detach(), transpose(weight.detach(), 0, 1)));
  const [N, K] = weight.shape as [number, number];
  return record(y, 'linear', [x, weight], (g) => {
    const gx = x.requiresGrad ? matmul(g, weight) : null;
    let gw: Tensor | null = null;
    if (weight.requiresGrad) {
      const rows = g.size / N;
      gw = ownedGrad(matmul(transpose(reshape(g, [rows, N]), 0, 1), reshape(x, [rows, K])));
    }
    return [gx, gw];
  });
}
