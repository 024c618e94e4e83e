// Attention rows: the fused kernel (online softmax, blocked over queries and
// keys) in every mask mode - causal and not, a KV cache offset (decode at
// Tq = 1 and chunked prefill), a key padding mask, the 13B query mask
// (padding queries attend uniformly), ALiBi with 40 heads - against the
// float64 materialised reference (src/engine/ref/attention.ts), and the
// backward (dq, dk, dv) against finite differences of it. Rows whose
// finite differences would cost seconds (40 heads, 150 x 150, D = 128) are
// forward only; the backward's code paths (partial blocks, every mask,
// ALiBi) are covered by the smaller rows.
import { native } from '../../src/engine/native.js';
import { attentionRef } from '../../src/engine/ref/index.js';
import { alibiSlopes } from '../../src/engine/ops/position.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, randn, dot, fd, memo } from './case.js';

export interface AttnShape {
  B: number; H: number; Tq: number; Tk: number; D: number; past: number; causal: boolean;
  /** ALiBi: 'pow2' = slopes 2^-(h+1) (the original rows), 'baichuan' = alibiSlopes(H) (SPEC §4.6). */
  alibi?: 'pow2' | 'baichuan';
  /** key positions (b * Tk + j) masked out */
  maskedKeys?: number[];
  /** query positions (b * Tq + i) that are padding (13B semantics: uniform over all keys) */
  paddedQueries?: number[];
  /** forward + backward by finite differences (false: forward only) */
  grad: boolean;
}

function describe(s: AttnShape): string {
  const parts = [s.causal ? 'causal' : 'non-causal'];
  if (s.past) parts.push(`past ${s.past}`);
  if (s.maskedKeys) parts.push('key mask');
  if (s.paddedQueries) parts.push('query mask');
  if (s.alibi) parts.push(`ALiBi${s.H >= 40 ? ` ${s.H} heads` : ''}`);
  return `attention ${s.grad ? 'forward + backward' : 'forward'}, ${parts.join(', ')}, [${s.B},${s.H}] ${s.Tq} x ${s.Tk} D ${s.D}`;
}

export function attentionCase(s: AttnShape, testOnly = true): KernelCase {
  return {
    name: describe(s), kernels: s.grad ? ['attnFwd', 'attnBwd'] : ['attnFwd'], kind: s.grad ? 'backward' : 'forward',
    bound: s.grad ? BOUNDS.fd : BOUNDS.f32, baselineBound: BOUNDS.f32, testOnly,
    make(scale) {
      const perf = scale === 'perf';
      const { B, H, Tq, Tk, D, past, causal } = perf ? { B: 1, H: 32, Tq: 512, Tk: 512, D: 128, past: 0, causal: true } : s;
      const grad = s.grad && !perf;
      const q = randn(B * H * Tq * D, 16), k = randn(B * H * Tk * D, 17), v = randn(B * H * Tk * D, 18), R = randn(B * H * Tq * D, 19);
      const slopes = !s.alibi ? null : s.alibi === 'baichuan' ? alibiSlopes(H) : Float32Array.from({ length: H }, (_, h) => 2 ** (-(h + 1)));
      const keyMask = perf || !s.maskedKeys ? null : Int32Array.from({ length: B * Tk }, (_, i) => (s.maskedKeys!.includes(i) ? 0 : 1));
      const queryMask = perf || !s.paddedQueries ? undefined : Int32Array.from({ length: B * Tq }, (_, i) => (s.paddedQueries!.includes(i) ? 0 : 1));
      const st = (T: number) => [H * T * D, T * D, D];
      const opts = { B, H, Tq, Tk, D, q: st(Tq), k: st(Tk), v: st(Tk), o: st(Tq), dq: st(Tq), dk: st(Tk), dv: st(Tk), past, causal, scale: 1 / Math.sqrt(D), ...(queryMask ? { queryMask } : {}) };
      // dO in its own layout, [B, Tq, H, D] (the kernel takes its strides): R permuted
      const Rp = new Float32Array(R.length);
      for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < Tq; i++)
        Rp.set(R.subarray(((b * H + h) * Tq + i) * D, ((b * H + h) * Tq + i + 1) * D), ((b * Tq + i) * H + h) * D);
      const bopts = { ...opts, dO: [Tq * H * D, D, H * D] };
      const o = new Float32Array(q.length), lse = new Float32Array(B * H * Tq);
      const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(v.length);
      const refOpts = { causal, past, scale: opts.scale, slopes: slopes ?? undefined, keyMask: keyMask ?? undefined, queryMask };
      const f = (qq: ArrayLike<number>, kk: ArrayLike<number>, vv: ArrayLike<number>) => dot(attentionRef(qq, kk, vv, B, H, Tq, Tk, D, refOpts), R);
      return {
        run() {
          native.attnFwd(opts, slopes, keyMask, q, k, v, o, lse);
          if (!grad) return [o];
          native.attnBwd(bopts, slopes, keyMask, q, k, v, o, lse, Rp, dq, dk, dv);
          return [o, dq, dk, dv];
        },
        ref: memo(() => !grad ? [attentionRef(q, k, v, B, H, Tq, Tk, D, refOpts)] : [attentionRef(q, k, v, B, H, Tq, Tk, D, refOpts),
          fd((x) => f(x, k, v), q), fd((x) => f(q, x, v), k), fd((x) => f(q, k, x), v)]),
        flops: 2 * B * H * Tq * Tk * D,  // causal: QK^T and PV over half the square
        label: perf ? `attention forward, causal${s.alibi ? ', ALiBi' : ''}, [1,32] 512 x 512 D 128` : undefined,
      };
    },
  };
}

export const ATTENTION_CASES: KernelCase[] = [
  // the rows timed by --perf (at the perf size, one 7B layer's heads at T = 512)
  attentionCase({ B: 2, H: 2, Tq: 7, Tk: 9, D: 8, past: 2, causal: true, maskedKeys: [10], grad: true }, false),
  attentionCase({ B: 2, H: 2, Tq: 7, Tk: 9, D: 8, past: 2, causal: true, maskedKeys: [10], alibi: 'pow2', grad: true }, false),
  // 67 x 69 scores: the blocked kernels (64 queries x 64 keys) see a partial second block both ways
  attentionCase({ B: 1, H: 1, Tq: 67, Tk: 69, D: 4, past: 2, causal: true, maskedKeys: [65], alibi: 'pow2', grad: true }),
  attentionCase({ B: 1, H: 2, Tq: 5, Tk: 9, D: 4, past: 0, causal: false, grad: true }),
  // decode: one query over a cache of 8; chunked prefill: 4 queries after 6 cached keys
  attentionCase({ B: 2, H: 2, Tq: 1, Tk: 9, D: 16, past: 8, causal: true, grad: true }),
  attentionCase({ B: 1, H: 2, Tq: 4, Tk: 10, D: 8, past: 6, causal: true, grad: true }),
  // Baichuan 2 13B: 40 heads of ALiBi (forward), 5 heads with gradients; left padding with key and query masks
  attentionCase({ B: 1, H: 40, Tq: 6, Tk: 6, D: 4, past: 0, causal: true, alibi: 'baichuan', grad: false }),
  attentionCase({ B: 1, H: 5, Tq: 6, Tk: 6, D: 4, past: 0, causal: true, alibi: 'baichuan', grad: true }),
  attentionCase({ B: 2, H: 4, Tq: 6, Tk: 6, D: 5, past: 0, causal: true, alibi: 'baichuan', maskedKeys: [5, 6, 7], grad: true }),
  attentionCase({ B: 2, H: 2, Tq: 5, Tk: 5, D: 4, past: 0, causal: true, alibi: 'baichuan', maskedKeys: [3, 4], paddedQueries: [3, 4], grad: true }),
  // long rows across several blocks, and the models' head size
  attentionCase({ B: 1, H: 2, Tq: 150, Tk: 150, D: 32, past: 0, causal: true, alibi: 'baichuan', grad: false }),
  attentionCase({ B: 1, H: 2, Tq: 33, Tk: 33, D: 128, past: 0, causal: true, grad: false }),
];
