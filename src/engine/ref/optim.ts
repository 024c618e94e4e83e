// Reference AdamW (torch.optim.AdamW, decoupled decay), float64, one step.
export interface AdamWRefState { p: Float64Array; m: Float64Array; v: Float64Array }

export function adamwRef(s: AdamWRefState, g: ArrayLike<number>, step: number, lr: number, beta1: number, beta2: number, eps: number, wd: number): void {
  const bc1 = 1 - beta1 ** step, bc2 = 1 - beta2 ** step;
  for (let i = 0; i < s.p.length; i++) {
    s.p[i] = s.p[i]! * (1 - lr * wd);
    s.m[i] = beta1 * s.m[i]! + (1 - beta1) * g[i]!;
    s.v[i] = beta2 * s.v[i]! + (1 - beta2) * g[i]! ** 2;
    s.p[i] = s.p[i]! - (lr / bc1) * s.m[i]! / (Math.sqrt(s.v[i]!) / Math.sqrt(bc2) + eps);
  }
}
