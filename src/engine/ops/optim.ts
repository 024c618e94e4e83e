// Optimizer kernels: fused AdamW (fp32 master weights and moments; a bf16
// parameter gets its working copy rewritten from the master in the same pass)
// and the global gradient norm with clipping (torch.nn.utils.clip_grad_norm_
// semantics: scale by max / (norm + 1e-6) only when norm > max).
// Reference: src/engine/ref/optim.ts.
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamWSlot {
  m: Float32Array;
  v: Float32Array;
  /** fp32 master copy, present when the parameter itself is bf16. */
  master: Float32Array | null;
}

export function newAdamWSlot(p: Tensor): AdamWSlot {
  if (p.dtype !== 'f32' && p.dtype !== 'bf16') throw new TypeError(`adamw: parameters must be f32 or bf16, got ${p.dtype}`);
  return { m: new Float32Array(p.size), v: new Float32Array(p.size), master: p.dtype === 'bf16' ? p.f32().slice() : null };
}

/** One AdamW update of `p` in place; `step` counts from 1. */
export function adamwStep(p: Tensor, slot: AdamWSlot, step: number, hp: AdamWHyper): void {
  if (!p.grad) return;
  if (!p.isContiguous()) throw new Error(`adamw: parameter ${p.toString()} must be contiguous`);
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`adamw: step must be a positive integer, got ${step}`);
  const g = p.grad.f32();
  const bc1 = 1 - hp.beta1 ** step, bc2 = 1 - hp.beta2 ** step;
  const h = { ...hp, bc1, bc2 };
  if (p.dtype === 'bf16') {
    const bits = (p.data as Uint16Array).subarray(p.offset, p.offset + p.size);
    backend().adamw(slot.master!, g, slot.m, slot.v, h, bits);
  } else {
    backend().adamw((p.data as Float32Array).subarray(p.offset, p.offset + p.size), g, slot.m, slot.v, h, null);
  }
}

/** L2 norm of all gradients together (float64 sums over fixed chunks: thread-count independent). */
export function gradNorm(params: readonly Tensor[]): number {
  let s = 0;
  for (const p of params) if (p.grad) s += backend().sumsq(p.grad.f32());
  return Math.sqrt(s);
}

/** Clip the global gradient norm to `maxNorm`; returns the norm before clipping. */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  const total = gradNorm(params);
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) {
    for (const p of params) {
      if (!p.grad) continue;
      const g = p.grad.f32();  // a leaf's grad is its own buffer: scale in place
      backend().affine(g, Math.fround(coef), 0, g);
    }
  }
  return total;
}
