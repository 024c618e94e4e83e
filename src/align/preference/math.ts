// The numbers of preference alignment, in plain float64 TypeScript: each loss
// returns its value and its gradient with respect to the quantities the model
// produces (sequence log-probs, rewards, token log-probs, values). Trainers
// read those quantities out of the model, call these functions and push the
// gradients back through the tape with backward(x, dL/dx), so every formula
// lives here once, tested against central differences (test/align/preference).
// Conventions follow TRL (DPOTrainer, RewardTrainer, PPOTrainer, GRPOTrainer):
//   DPO  h = β[(πc − ρc) − (πr − ρr)];  loss = −(1−ε)·log σ(h) − ε·log σ(−h)  (ε = label smoothing, "conservative")
//   IPO  loss = (d − 1/(2β))²,  d = (πc − ρc) − (πr − ρr)  (Azar et al.; TRL feeds length-averaged log-probs)
//   RM   loss = −log σ(rc − rr − margin)  (InstructGPT; margin as Llama 2)
//   PPO  token reward −β·(log π − log π_ref), RM score added at the last response token;
//        GAE(γ, λ); masked whitening; clipped surrogate; clipped value loss ½·max((v−R)², (v_clip−R)²).
//   GRPO advantages (r − mean_group) / (std_group + 1e-4), std unbiased as torch.std.
// All means over tokens are masked means: Σ m·x / Σ m.

/** log σ(x), stable for large |x|. */
export function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

// ---------------------------------------------------------------- DPO

export type DpoLossType = 'sigmoid' | 'ipo';

export interface DpoOptions {
  beta: number;
  loss?: DpoLossType;
  /** Label smoothing ε in [0, 0.5): the conservative DPO of Mitchell (2023) / TRL's label_smoothing. */
  labelSmoothing?: number;
}

export interface DpoPair {
  loss: number;
  /** dLoss/dπ_chosen and dLoss/dπ_rejected (policy sequence log-probs). */
  dChosen: number;
  dRejected: number;
  /** Implicit rewards β(π − ρ) (TRL's rewards/chosen, rewards/rejected). */
  rewardChosen: number;
  rewardRejected: number;
}

/** One pair's DPO loss from policy (π) and reference (ρ) sequence log-probs. */
export function dpoPair(piC: number, piR: number, refC: number, refR: number, o: DpoOptions): DpoPair {
  const beta = o.beta;
  const d = piC - refC - (piR - refR);
  const rewardChosen = beta * (piC - refC), rewardRejected = beta * (piR - refR);
  if ((o.loss ?? 'sigmoid') === 'ipo') {
    const e = d - 1 / (2 * beta);
    return { loss: e * e, dChosen: 2 * e, dRejected: -2 * e, rewardChosen, rewardRejected };
  }
  const eps = o.labelSmoothing ?? 0;
  const h = beta * d;
  const loss = -(1 - eps) * logSigmoid(h) - eps * logSigmoid(-h);
  const dh = -(1 - eps) * sigmoid(-h) + eps * sigmoid(h);
  return { loss, dChosen: dh * beta, dRejected: -dh * beta, rewardChosen, rewardRejected };
}

export interface DpoBatch {
  /** Mean loss over the pairs. */
  loss: number;
  /** Per-pair gradients of the mean loss (already divided by the pair count `over`). */
  dChosen: Float64Array;
  dRejected: Float64Array;
  rewardsChosen: number;
  rewardsRejected: number;
  accuracy: number;
  margin: number;
}

/**
 * DPO over a batch: the mean over `over` pairs (default: this batch's size, so a
 * micro-batch of a larger accumulated batch passes the full batch size and the
 * gradients add up to the full batch's).
 */
export function dpoBatch(piC: ArrayLike<number>, piR: ArrayLike<number>, refC: ArrayLike<number>, refR: ArrayLike<number>, o: DpoOptions, over = piC.length): DpoBatch {
  const n = piC.length;
  const dChosen = new Float64Array(n), dRejected = new Float64Array(n);
  let loss = 0, rc = 0, rr = 0, acc = 0;
  for (let i = 0; i < n; i++) {
    const p = dpoPair(piC[i]!, piR[i]!, refC[i]!, refR[i]!, o);
    loss += p.loss;
    dChosen[i] = p.dChosen / over;
    dRejected[i] = p.dRejected / over;
    rc += p.rewardChosen;
    rr += p.rewardRejected;
    if (p.rewardChosen > p.rewardRejected) acc++;
  }
  return { loss: loss / over, dChosen, dRejected, rewardsChosen: rc / over, rewardsRejected: rr / over, accuracy: acc / over, margin: (rc - rr) / over };
}

// ---------------------------------------------------------------- reward model

export interface RmBatch {
  loss: number;
  dChosen: Float64Array;
  dRejected: Float64Array;
  /** Fraction of pairs with r_chosen > r_rejected. */
  accuracy: number;
}

/** Pairwise ranking loss mean_i −log σ(rc_i − rr_i − m_i), with gradients (divided by `over`). */
export function rmBatch(rc: ArrayLike<number>, rr: ArrayLike<number>, margin: ArrayLike<number> | null, over = rc.length): RmBatch {
  const n = rc.length;
  const dChosen = new Float64Array(n), dRejected = new Float64Array(n);
  let loss = 0, acc = 0;
  for (let i = 0; i < n; i++) {
    const d = rc[i]! - rr[i]! - (margin ? margin[i]! : 0);
    loss -= logSigmoid(d);
    const g = -sigmoid(-d) / over;
    dChosen[i] = g;
    dRejected[i] = -g;
    if (rc[i]! > rr[i]!) acc++;
  }
  return { loss: loss / over, dChosen, dRejected, accuracy: acc / over };
}

// ---------------------------------------------------------------- PPO

/**
 * Per-token rewards of one response: −β·(log π_t − log π_ref,t) at every
 * response token, plus the reward model's score at the last one. Returns the
 * rewards and the per-token KL estimate (log π − log π_ref, the k1 estimator).
 */
export function tokenRewards(logp: ArrayLike<number>, refLogp: ArrayLike<number>, score: number, beta: number): { rewards: Float64Array; kl: Float64Array } {
  const n = logp.length;
  const rewards = new Float64Array(n), kl = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    kl[t] = logp[t]! - refLogp[t]!;
    rewards[t] = -beta * kl[t]!;
  }
  if (n > 0) rewards[n - 1] += score;
  return { rewards, kl };
}

/**
 * Generalised advantage estimation over one response (values after the last
 * token are 0: the episode ends there). δ_t = r_t + γ V_{t+1} − V_t;
 * A_t = δ_t + γλ A_{t+1}; returns R_t = A_t + V_t.
 */
export function gae(rewards: ArrayLike<number>, values: ArrayLike<number>, gamma: number, lambda: number): { advantages: Float64Array; returns: Float64Array } {
  const n = rewards.length;
  const advantages = new Float64Array(n), returns = new Float64Array(n);
  let last = 0;
  for (let t = n - 1; t >= 0; t--) {
    const next = t + 1 < n ? values[t + 1]! : 0;
    const delta = rewards[t]! + gamma * next - values[t]!;
    last = delta + gamma * lambda * last;
    advantages[t] = last;
    returns[t] = last + values[t]!;
  }
  return { advantages, returns };
}

/** Masked mean and variance (unbiased, as TRL's masked_var); mask entries are 0 or 1. */
export function maskedMoments(x: ArrayLike<number>, mask: ArrayLike<number>): { mean: number; variance: number; count: number } {
  let n = 0, s = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]) { n++; s += x[i]!; }
  const mean = n ? s / n : 0;
  let v = 0;
  for (let i = 0; i < x.length; i++) if (mask[i]) v += (x[i]! - mean) ** 2;
  const variance = n > 1 ? v / (n - 1) : 0;
  return { mean, variance, count: n };
}

/** (x − mean)/sqrt(var + 1e-8) over the masked entries (mean added back when shiftMean is false); masked-out entries become 0. */
export function maskedWhiten(x: ArrayLike<number>, mask: ArrayLike<number>, shiftMean = true): Float64Array {
  const { mean, variance } = maskedMoments(x, mask);
  const inv = 1 / Math.sqrt(variance + 1e-8);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) if (mask[i]) out[i] = (x[i]! - mean) * inv + (shiftMean ? 0 : mean);
  return out;
}

export interface PolicyLoss {
  loss: number;
  /** dLoss/d(log π_t) per token. */
  dLogp: Float64Array;
  clipFraction: number;
  /** ½·mean((log π − log π_old)²), TRL's approxkl. */
  approxKl: number;
  ratioMean: number;
}

/** PPO clipped surrogate: mean_t max(−A_t·ρ_t, −A_t·clip(ρ_t, 1−ε, 1+ε)), ρ_t = exp(log π_t − log π_old,t). */
export function ppoPolicyLoss(logp: ArrayLike<number>, oldLogp: ArrayLike<number>, adv: ArrayLike<number>, mask: ArrayLike<number>, clip: number): PolicyLoss {
  const n = logp.length;
  const dLogp = new Float64Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) if (mask[i]) count++;
  const c = Math.max(1, count);
  let loss = 0, clipped = 0, kl = 0, ratioSum = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const lr = logp[i]! - oldLogp[i]!;
    const ratio = Math.exp(lr);
    const a = adv[i]!;
    const pg1 = -a * ratio;
    const rc = Math.min(Math.max(ratio, 1 - clip), 1 + clip);
    const pg2 = -a * rc;
    if (pg2 > pg1) {
      loss += pg2;
      clipped++;
      // the clipped branch is constant in log π unless the ratio lies inside the range (then pg1 == pg2)
      dLogp[i] = ratio > 1 - clip && ratio < 1 + clip ? (-a * ratio) / c : 0;
    } else {
      loss += pg1;
      dLogp[i] = (-a * ratio) / c;
    }
    kl += 0.5 * lr * lr;
    ratioSum += ratio;
  }
  return { loss: loss / c, dLogp, clipFraction: clipped / c, approxKl: kl / c, ratioMean: ratioSum / c };
}

export interface ValueLoss {
  loss: number;
  dValues: Float64Array;
  clipFraction: number;
}

/** Clipped value loss ½·mean_t max((v_t − R_t)², (v_old,t + clip(v_t − v_old,t, ±ε) − R_t)²). */
export function ppoValueLoss(values: ArrayLike<number>, oldValues: ArrayLike<number>, returns: ArrayLike<number>, mask: ArrayLike<number>, clip: number): ValueLoss {
  const n = values.length;
  const dValues = new Float64Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) if (mask[i]) count++;
  const c = Math.max(1, count);
  let loss = 0, clipped = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const v = values[i]!, vo = oldValues[i]!, R = returns[i]!;
    const delta = v - vo;
    const inside = delta > -clip && delta < clip;
    const vc = vo + Math.min(Math.max(delta, -clip), clip);
    const f1 = (v - R) ** 2, f2 = (vc - R) ** 2;
    if (f2 > f1) {
      loss += 0.5 * f2;
      clipped++;
      dValues[i] = inside ? (vc - R) / c : 0;
    } else {
      loss += 0.5 * f1;
      dValues[i] = (v - R) / c;
    }
  }
  return { loss: loss / c, dValues, clipFraction: clipped / c };
}

/** GRPO: (r − mean)/(std + 1e-4) within consecutive groups of `k` rewards (std with Bessel's correction). */
export function grpoAdvantages(rewards: ArrayLike<number>, k: number): Float64Array {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`grpo: group size must be an integer >= 2, got ${k}`);
  if (rewards.length % k !== 0) throw new RangeError(`grpo: ${rewards.length} rewards do not split into groups of ${k}`);
  const out = new Float64Array(rewards.length);
  for (let g = 0; g < rewards.length; g += k) {
    let s = 0;
    for (let i = g; i < g + k; i++) s += rewards[i]!;
    const mean = s / k;
    let v = 0;
    for (let i = g; i < g + k; i++) v += (rewards[i]! - mean) ** 2;
    const std = Math.sqrt(v / (k - 1));
    for (let i = g; i < g + k; i++) out[i] = (rewards[i]! - mean) / (std + 1e-4);
  }
  return out;
}

/**
 * The KL coefficient at iteration `it` (0-based) of `total`: geometric decay
 * from `start` to `end` (β_t = start·(end/start)^(t/(total−1))), the paper's
 * 0.2 → 0.005 (SPEC §8; the paper does not name the schedule), or linear.
 */
export function klCoefficient(it: number, total: number, start: number, end: number, schedule: 'exponential' | 'linear' | 'constant' = 'exponential'): number {
  if (schedule === 'constant' || total <= 1) return start;
  const f = Math.min(1, Math.max(0, it / (total - 1)));
  return schedule === 'linear' ? start + (end - start) * f : start * (end / start) ** f;
}

/** Entropy (nats) of softmax(row), float64. */
export function rowEntropy(row: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i]! - max);
  const lz = Math.log(z);
  let h = 0;
  for (let i = 0; i < row.length; i++) {
    const lp = row[i]! - max - lz;
    h -= Math.exp(lp) * lp;
  }
  return h;
}

/**
 * GRPO's per-token KL penalty, the k3 estimator of KL(π‖π_ref) (Schulman 2020):
 * k3 = exp(ρ − π) − (ρ − π) − 1 ≥ 0 with π = log π_t, ρ = log π_ref,t; returns
 * β·mean(k3) over the mask and its gradient in log π.
 */
export function k3KlPenalty(logp: ArrayLike<number>, refLogp: ArrayLike<number>, mask: ArrayLike<number>, beta: number): { penalty: number; kl: number; dLogp: Float64Array } {
  const n = logp.length;
  let count = 0;
  for (let i = 0; i < n; i++) if (mask[i]) count++;
  const c = Math.max(1, count);
  const dLogp = new Float64Array(n);
  let kl = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const d = refLogp[i]! - logp[i]!;
    kl += Math.exp(d) - d - 1;
    dLogp[i] = (beta * (1 - Math.exp(d))) / c;
  }
  return { penalty: (beta * kl) / c, kl: kl / c, dLogp };
}
