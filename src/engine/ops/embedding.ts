// Embedding lookup: out[..., :] = weight[ids[...], :]. The backward is a
// scatter-add into a zero [V, C] gradient, in index order (deterministic;
// repeated ids accumulate). Reference: src/engine/ref/embedding.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record } from '../autograd.js';

/** `paddingIdx` (as nn.Embedding's padding_idx): that row never receives gradient. */
export function embedding(ids: Tensor, weight: Tensor, paddingIdx?: number): Tensor {
  if (ids.dtype !== 'i32') throw new TypeError(`embedding: ids must be i32, got ${ids.dtype}`);
  if (weight.ndim !== 2) throw new RangeError(`embedding: weight must be [V, C], got ${shapeStr(weight.shape)}`);
  const [V, C] = weight.shape as [number, number];
  const idv = ids.copyStorage() as Int32Array;
  for (let i = 0; i < idv.length; i++)
    if (idv[i]! < 0 || idv[i]! >= V)
      throw new RangeError(`embedding: id ${idv[i]} at position ${i} is outside the vocabulary [0, ${V}) of weight ${shapeStr(weight.shape)}`);
  const w = weight.contiguous().detach();
  const src = w.data;
  const out = new (src.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(idv.length * C);
  for (let i = 0; i < idv.length; i++) out.set(src.subarray(w.offset + idv[i]! * C, w.offset + (idv[i]! + 1) * C), i * C);
  const result = Tensor.fromStorage(out, [...ids.shape, C], weight.dtype);
  return record(result, 'embedding', [null, weight], (g) => {
    const gv = g.f32();
    const gw = new Float32Array(V * C);
    for (let i = 0; i < idv.length; i++) {
      if (idv[i] === paddingIdx) continue;
      const row = idv[i]! * C, gr = i * C;
      for (let c = 0; c < C; c++) gw[row + c] += gv[gr + c]!;
    }
    return [null, Tensor.from(gw, [V, C])];
  });
}
