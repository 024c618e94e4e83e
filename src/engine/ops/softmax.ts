// Softmax and log-softmax over the last dim (row kernels; sums in double).
// Reference: src/engine/ref/softmax.ts.
import { Tensor } from '../tensor.js';
import { record } from '../autograd.js';
import { backend } from '../backend.js';
import { f32Buffer, fromF32, resultDType } from './util.js';

function rowSoftmax(x: Tensor, log: boolean): Tensor {
  const dtype = resultDType(log ? 'logSoftmax' : 'softmax', x);
  const cols = x.dim(-1);
  const rows = cols === 0 ? 0 : x.size / cols;
  const xv = x.f32();
  const y = f32Buffer(xv.length);
  backend().softmaxFwd(xv, y, rows, cols, log);
  return record(fromF32(y, x.shape, dtype), log ? 'logSoftmax' : 'softmax', [x], (g) => {
    const dx = f32Buffer(y.length);
    backend().softmaxBwd(y, g.f32(), dx, rows, cols, log);
    return [Tensor.from(dx, x.shape)];
  });
}

export function softmax(x: Tensor): Tensor {
  return rowSoftmax(x, false);
}

export function logSoftmax(x: Tensor): Tensor {
  return rowSoftmax(x, true);
}
