// AdamW over a model's named parameters (SPEC §5: beta1 0.9, beta2 0.95,
// weight decay 0.1). Decay applies to every matrix (embedding, projections,
// NormHead); the 1-D RMSNorm gains are excluded, as is usual since decaying a
// gain pulls the normalised activations toward zero rather than regularising.
// bf16 parameters keep fp32 master weights here (mixed precision). The state
// saves to and loads from safetensors exactly, for bit-exact resume.
import { Tensor } from '../engine/tensor.js';
import { adamwStep, newAdamWSlot, type AdamWSlot } from '../engine/ops/optim.js';
import { noGrad } from '../engine/autograd.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export class AdamW {
  step = 0;
  readonly slots = new Map<string, AdamWSlot>();

  constructor(readonly params: [string, Tensor][], readonly cfg: AdamWConfig) {
    for (const [name, p] of params) this.slots.set(name, newAdamWSlot(p));
  }

  static decays(name: string, p: Tensor): boolean {
    return p.ndim >= 2;
  }

  /** One update with learning rate `lr`; parameters without gradients are left alone. */
  update(lr: number): void {
    this.step++;
    noGrad(() => {
      for (const [name, p] of this.params) {
        const wd = AdamW.decays(name, p) ? this.cfg.weightDecay : 0;
        adamwStep(p, this.slots.get(name)!, this.step, { lr, beta1: this.cfg.beta1, beta2: this.cfg.beta2, eps: this.cfg.eps, weightDecay: wd });
      }
    });
  }

  /** Moments (and fp32 masters) as named tensors, for a checkpoint. */
  stateTensors(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, p] of this.params) {
      const s = this.slots.get(name)!;
      out.push([`${name}.exp_avg`, Tensor.from(s.m, p.shape)], [`${name}.exp_avg_sq`, Tensor.from(s.v, p.shape)]);
      if (s.master) out.push([`${name}.master`, Tensor.from(s.master, p.shape)]);
    }
    return out;
  }

  loadStateTensors(t: Map<string, Tensor>, step: number): void {
    this.step = step;
    for (const [name, p] of this.params) {
      const s = this.slots.get(name)!;
      const get = (k: string) => {
        const v = t.get(`${name}.${k}`);
        if (!v || v.size !== p.size || v.dtype !== 'f32') throw new Error(`optimizer state: '${name}.${k}' is missing or has the wrong size`);
        return v.f32();
      };
      s.m.set(get('exp_avg'));
      s.v.set(get('exp_avg_sq'));
      if (s.master) s.master.set(get('master'));
    }
  }
}
