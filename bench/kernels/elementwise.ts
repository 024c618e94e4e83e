// Element-wise rows: SiLU and the fused SwiGLU (forward and backward, the
// derivative by finite differences of the float64 reference,
// src/engine/ref/activation.ts) and RoPE on a strided input, whose backward
// is the inverse rotation (checked against finite differences).
import { native } from '../../src/engine/native.js';
import { siluRef, swigluRef } from '../../src/engine/ref/index.js';
import { BOUNDS } from './bounds.js';
import { type KernelCase, randn, dot, fd, fdPointwise, memo, FD_STEP } from './case.js';

function pointwiseCase(name: 'silu' | 'swiglu', size = 1001, testOnly = false): KernelCase {
  return {
    name: `${name} forward + backward n=${size}`, kernels: [`${name}Fwd`, `${name}Bwd`], kind: 'backward', bound: BOUNDS.fd, baselineBound: BOUNDS.f32, testOnly,
    make(scale) {
      const n = scale === 'perf' ? 1 << 22 : size;
      const g = randn(n, 7, 3), u = randn(n, 8), dy = randn(n, 9);
      const y = new Float32Array(n), dg = new Float32Array(n), du = new Float32Array(n);
      if (name === 'silu')
        return {
          run() { native.siluFwd(g, y, n); native.siluBwd(g, dy, dg, n); return [y, dg]; },
          ref: memo(() => {
            const d = fdPointwise(siluRef, g);
            return [Float64Array.from(g, siluRef), d.map((v, i) => v * dy[i]!)];
          }),
          bytes: 20 * n,
        };
      return {
        run() { native.swigluFwd(g, u, y, n); native.swigluBwd(g, u, dy, dg, du, n); return [y, dg, du]; },
        ref: memo(() => {
          // d/dgate and d/dup of swiglu(gate, up) = silu(gate) * up, both by central differences
          const dgate = fdPointwise(siluRef, g);
          const dup = Float64Array.from(g, (gi, i) => (swigluRef(gi, u[i]! + FD_STEP) - swigluRef(gi, u[i]! - FD_STEP)) / (2 * FD_STEP));
          return [Float64Array.from(g, (v, i) => swigluRef(v, u[i]!)), dgate.map((v, i) => v * u[i]! * dy[i]!), dup.map((v, i) => v * dy[i]!)];
        }),
        bytes: 32 * n,
      };
    },
  };
}

function ropeCase(): KernelCase {
  return {
    name: 'rope forward + inverse, strided x [2,5,3,16]', kernels: ['rope'], kind: 'backward', bound: BOUNDS.fd, baselineBound: BOUNDS.f32,
    make(scale) {
      const [B, T, H, D] = scale === 'perf' ? [1, 512, 32, 128] : [2, 5, 3, 16];
      // x lives inside a wider buffer: head stride D + 3, time stride H * (D + 3) + 1
      const sh = D + 3, st = H * sh + 1, sb = T * st + 2;
      const buf = randn(B * sb, 10), R = randn(B * T * H * D, 11);
      const cos = new Float32Array(B * T * D), sin = new Float32Array(B * T * D);
      for (let bt = 0; bt < B * T; bt++)
        for (let i = 0; i < D / 2; i++) {
          const ang = (bt % T + 3 * Math.floor(bt / T)) / 10000 ** ((2 * i) / D);
          cos[bt * D + i] = cos[bt * D + i + D / 2] = Math.cos(ang);
          sin[bt * D + i] = sin[bt * D + i + D / 2] = Math.sin(ang);
        }
      const y = new Float32Array(B * T * H * D), dx = new Float32Array(B * T * H * D);
      const gather = (v: ArrayLike<number>) => {
        const x = new Float64Array(B * T * H * D);
        for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let d = 0; d < D; d++)
          x[((b * T + t) * H + h) * D + d] = v[b * sb + t * st + h * sh + d]!;
        return x;
      };
      const rot = (x: ArrayLike<number>) => {  // float64 rotation with the kernel's f32 tables
        const out = new Float64Array(x.length), half = D / 2;
        for (let bt = 0; bt < B * T; bt++) for (let h = 0; h < H; h++) {
          const o = (bt * H + h) * D;
          for (let i = 0; i < half; i++) {
            const x1 = x[o + i]!, x2 = x[o + half + i]!;
            out[o + i] = x1 * cos[bt * D + i]! - x2 * sin[bt * D + i]!;
            out[o + half + i] = x2 * cos[bt * D + half + i]! + x1 * sin[bt * D + half + i]!;
          }
        }
        return out;
      };
      return {
        run() {
          native.rope(buf, y, B, T, H, D, sb, st, sh, cos, sin, false);
          native.rope(R, dx, B, T, H, D, T * H * D, H * D, D, cos, sin, true);
          return [y, dx];
        },
        // the inverse is the backward: d/dx sum(rope(x) * R)
        ref: memo(() => [rot(gather(buf)), fd((v) => dot(rot(v), R), gather(buf))]),
        bytes: 16 * B * T * H * D,
      };
    },
  };
}

export const ELEMENTWISE_CASES: KernelCase[] = [
  pointwiseCase('silu'), pointwiseCase('swiglu'),
  // shorter than one 16-lane vector: the tail path alone
  pointwiseCase('silu', 13, true), pointwiseCase('swiglu', 13, true),
  ropeCase(),
];
