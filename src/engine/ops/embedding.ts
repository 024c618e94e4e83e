// Embedding lookup: out[..., :] = weight[ids[...], :]. The backward is a
// scatter-add into a zero [V, C] gradient, in index order (deterministic;
// repeated ids accumulate). Reference: src/engine/ref/embedding.ts.
import { Tensor, shapeStr } from '../tensor.js';
import { record, ownedGrad } from '../autograd.js';
import { backend } from '../backend.js';
import { f32Buffer } from './util.js';

/** `paddingIdx` (as nn.Embedding's padding_idx): that row never receives gradient. */
export function embedding(ids: Tensor, weight: Tensor, paddingIdx?: number): Tensor {
  if (ids.dtype !== 'i32') throw new TypeError(`embedding: ids must be i32, got ${ids.dtype}`);
  if (weight.ndim !== 2) throw new RangeError(`embedding: weight must be [V, C], got ${shapeStr(weight.shape)}`);
  const [V, C] = weight.shape as [number, number];
  const idv = ids.copyStorage() as Int32Array;
  for (let i = 0; i < idv.length; i++)
    if (idv[i]! < 0 || idv[i]! >= V)
      throw new RangeError(`embedding: id ${idv[i]} at position ${i} is outside the vocabulary [0, ${V}) of weight ${shapeStr(weight.shape)}`);
  const w = weight;
  const src = (w.isContiguous() ? w.data.subarray(w.offset, w.offset + w.size) : w.copyStorage()) as Float32Array | Uint16Array;
  const out = backend().alloc(w.dtype, idv.length * C) as Float32Array | Uint16Array;
  backend().gatherRows(src, idv, C, out);
  const result = Tensor.fromStorage(out, [...ids.shape, C], w.dtype);
  return record(result, 'embedding', [null, weight], (g) => {
    const gw = f32Buffer(V * C);
    backend().scatterAddRows(g.f32(), idv, C, paddingIdx ?? null, gw);
    return [null, ownedGrad(Tensor.from(gw, [V, C]))];
  });
}
