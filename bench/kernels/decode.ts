// The fused decode layer row (impl/decode.h: one native call per decoder layer
// for batch-1 quantised decode), against the float64 chain of the references it
// strings together.
import { native } from '../../src/engine/native.js';
import { rmsnormRef, swigluRef, attentionRef } from '../../src/engine/ref/index.js';
import { refQuantize, refQMatmul } from '../../src/engine/ref/quant.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, randn, memo } from './case.js';

/**
 * The fused decode layer (impl/decode.h) against the float64 composition of the
 * references it strings together: rmsnorm, the quantised products (refQMatmul:
 * int8 activations per 32-block), RoPE (or ALiBi), attention over the cache, the
 * residuals and SwiGLU. f32 norms (the bf16 roundings of a bf16 model are held by
 * test/model/fused-decode.test.ts, bit for bit against the composed layer).
 * Bound BOUNDS.f32 (1e-7): the kernel's f32 activations sit within a few ulps of
 * the float64 ones, so an int8 activation code could flip where x / s lands within
 * ~1e-7 of a half integer (one term off by ~1/127 of itself: NMSE ~1e-8 at these
 * sizes); on these seeded inputs none does, and every build measures 4e-16 .. 3e-14.
 * An indexing slip gives ~1.
 */
function decodeLayerCase(bits: 4 | 8, alibi: boolean): KernelCase {
  return {
    name: `decodeLayer q${bits} g32${alibi ? ' ALiBi' : ' RoPE'} C=64 H=2 F=96 Tk=5`, kernels: ['decodeLayer'], kind: 'forward', bound: BOUNDS.f32, baselineBound: BOUNDS.f32,
    make(scale) {
      const perf = scale === 'perf';
      const C = perf ? 4096 : 64, H = perf ? 32 : 2, F = perf ? 11008 : 96, Tk = perf ? 64 : 5, cap = Tk + 2, D = C / H, G = 32, eps = 1e-6;
      const lin = (N: number, K: number, seed: number) => {
        const w = randn(N * K, seed, 0.1);
        const q = new Uint8Array(N * (bits === 8 ? K : K / 2)), sc = new Uint16Array((N * K) / G);
        native.quantize(w, N, K, G, bits, q, sc);
        return { q, sc, N, K, ref: perf ? null : refQuantize(w, N, K, G, bits) };
      };
      const wp = lin(3 * C, C, 41), op = lin(C, C, 42), gp = lin(F, C, 43), up = lin(F, C, 44), dp = lin(C, F, 45);
      const n1 = randn(C, 46, 0.3).map((v) => 1 + v), n2 = randn(C, 47, 0.3).map((v) => 1 + v), h0 = randn(C, 48);
      const k0 = randn(H * cap * D, 49), v0 = randn(H * cap * D, 50);
      const cos = new Float32Array(D), sin = new Float32Array(D);
      for (let i = 0; i < D / 2; i++) {
        const ang = (Tk - 1) / 10000 ** ((2 * i) / D);
        cos[i] = cos[i + D / 2] = Math.cos(ang);
        sin[i] = sin[i + D / 2] = Math.sin(ang);
      }
      const slopes = alibi ? Float32Array.from({ length: H }, (_, i) => 2 ** (-(i + 1))) : null;
      const h = new Float32Array(C), kc = new Float32Array(k0.length), vc = new Float32Array(v0.length);
      const ref = (): Float64Array[] => {
        const mm = (x: ArrayLike<number>, l: typeof wp) => refQMatmul(x, 1, l.K, l.ref!.codes, l.ref!.scales, l.N, G);
        const x = Float64Array.from(h0);
        const qkv = mm(rmsnormRef(x, n1, 1, C, eps), wp);
        const rot = (v: Float64Array) => {
          if (alibi) return v;
          const out = new Float64Array(C), half = D / 2;
          for (let hd = 0; hd < H; hd++)
            for (let i = 0; i < half; i++) {
              const x1 = v[hd * D + i]!, x2 = v[hd * D + half + i]!;
              out[hd * D + i] = x1 * cos[i]! - x2 * sin[i]!;
              out[hd * D + half + i] = x2 * cos[half + i]! + x1 * sin[half + i]!;
            }
          return out;
        };
        const q = rot(qkv.slice(0, C)), k = rot(qkv.slice(C, 2 * C)), v = qkv.slice(2 * C);
        const K = Float64Array.from(k0), V = Float64Array.from(v0);
        for (let hd = 0; hd < H; hd++) {
          K.set(k.subarray(hd * D, (hd + 1) * D), (hd * cap + Tk - 1) * D);
          V.set(v.subarray(hd * D, (hd + 1) * D), (hd * cap + Tk - 1) * D);
        }
        const rows = (A: Float64Array) => { const o = new Float64Array(H * Tk * D); for (let hd = 0; hd < H; hd++) o.set(A.subarray(hd * cap * D, (hd * cap + Tk) * D), hd * Tk * D); return o; };
        const att = attentionRef(q, rows(K), rows(V), 1, H, 1, Tk, D, { causal: true, past: Tk - 1, scale: 1 / Math.sqrt(D), slopes: slopes ?? undefined });
        const o = mm(att, op);
        const a = x.map((xv, i) => xv + o[i]!);
        const m = rmsnormRef(a, n2, 1, C, eps);
        const g = mm(m, gp), u = mm(m, up);
        const d = mm(g.map((gv, i) => swigluRef(gv, u[i]!)), dp);
        return [a.map((av, i) => av + d[i]!), K, V];
      };
      return {
        run() {
          h.set(h0); kc.set(k0); vc.set(v0);
          native.decodeLayer(h, n1, n2, wp.q, wp.sc, op.q, op.sc, gp.q, gp.sc, up.q, up.sc, dp.q, dp.sc, alibi ? null : cos, alibi ? null : sin, slopes, kc, vc, C, H, F, Tk, cap, G, bits, eps, false);
          return [h, kc, vc];
        },
        ref: memo(ref),
        bytes: [wp, op, gp, up, dp].reduce((s, l) => s + l.q.byteLength + l.sc.byteLength, 0),
        label: `decodeLayer q${bits} g32 C=${C} F=${F} Tk=${Tk}`,
      };
    },
  };
}

export const DECODE_CASES: KernelCase[] = [decodeLayerCase(4, false), decodeLayerCase(8, false), decodeLayerCase(4, true)];
