// Cross-entropy rows: the fused forward (loss, log-sum-exp, the max for the
// max-z term) and backward of the loss the trainer uses, mean CE over kept
// rows + zw * mean(max^2), with an ignored row, against the float64
// reference and its finite differences; and a forward row at the real
// vocabulary (125,696 logits: a long reduction, see BOUNDS.f32).
import { native } from '../../src/engine/native.js';
import { Rng } from '../../src/engine/rng.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, randn, fd, memo } from './case.js';

const IGNORE = -100;

/** Per-row CE and log-sum-exp in float64 (0 loss for an ignored row). */
function xentRows(x: ArrayLike<number>, t: Int32Array, rows: number, cols: number) {
  const rl = new Float64Array(rows), rlse = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[i * cols + c]!);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[i * cols + c]! - m);
    rlse[i] = m + Math.log(s);
    rl[i] = t[i] === IGNORE ? 0 : rlse[i]! - x[i * cols + t[i]!]!;
  }
  return { rl, rlse };
}

function xentCase(rows: number, cols: number, grad: boolean): KernelCase {
  return {
    name: grad ? `cross-entropy forward + backward with max-z, ${rows}x${cols}, one ignored row` : `cross-entropy forward ${rows}x${cols}, targets 5 and ${cols - 1}, one ignored row`,
    kernels: grad ? ['xentFwd', 'xentBwd'] : ['xentFwd'], kind: grad ? 'backward' : 'forward', bound: grad ? BOUNDS.fd : BOUNDS.f32, baselineBound: BOUNDS.f32,
    testOnly: !grad,
    make(scale) {
      const r = scale === 'perf' ? 512 : rows, cols_ = scale === 'perf' ? 125696 : cols, zw = 2e-4;
      const x = randn(r * cols_, 14, 3);
      const rng = new Rng(15);
      // the long rows: an early and the last vocabulary entry as targets
      const t = Int32Array.from({ length: r }, (_, i) => (i === 2 ? IGNORE : !grad && i < 2 ? [5, cols_ - 1][i]! : rng.int(cols_)));
      const loss = new Float32Array(r), lse = new Float32Array(r), mx = new Float32Array(r), am = new Int32Array(r);
      const dl = new Float32Array(r * cols_);
      const kept = Array.from(t).filter((v) => v !== IGNORE).length;
      const gCe = new Float32Array(r).fill(1 / kept);
      return {
        run() {
          native.xentFwd(x, t, r, cols_, IGNORE, loss, lse, mx, am);
          if (!grad) return [loss, lse];
          const gZ = Float32Array.from(mx, (m) => (2 * zw * m) / r);
          native.xentBwd(x, t, lse, am, gCe, gZ, dl, r, cols_, IGNORE);
          return [loss, lse, dl];
        },
        ref: memo(() => {
          const { rl, rlse } = xentRows(x, t, r, cols_);
          if (!grad) return [rl, rlse];
          // d/dx of mean CE over kept rows + zw * mean(max^2): the loss the trainer uses
          const f = (v: Float64Array) => {
            const { rl: l } = xentRows(v, t, r, cols_);
            let ce = 0, z = 0;
            for (let i = 0; i < r; i++) {
              let m = -Infinity;
              for (let c = 0; c < cols_; c++) m = Math.max(m, v[i * cols_ + c]!);
              z += m * m;
              ce += l[i]!;
            }
            return ce / kept + (zw * z) / r;
          };
          return [rl, rlse, fd(f, x)];
        }),
        bytes: 8 * r * cols_,
      };
    },
  };
}

export const LOSS_CASES: KernelCase[] = [xentCase(6, 301, true), xentCase(3, 125696, false)];  // 125,696: the Baichuan 2 vocabulary
