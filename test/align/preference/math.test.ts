// The preference-alignment formulas (src/align/preference/math.ts) against
// direct float64 formulas on hand-made numbers and central differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numericGrad } from '../../helpers.js';
import {
  dpoBatch, dpoPair, rmBatch, gae, maskedWhiten, maskedMoments, ppoPolicyLoss, ppoValueLoss, tokenRewards,
  grpoAdvantages, klCoefficient, logSigmoid, rowEntropy, k3KlPenalty,
} from '../../../src/align/preference/math.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const closeAll = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) close(a[i]!, b[i]!, tol, `${what}[${i}]`);
};

test('logSigmoid is stable and exact', () => {
  for (const x of [-800, -30, -1, 0, 1, 30, 800]) close(logSigmoid(x), x > 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)), 1e-15, `x=${x}`);
  assert.equal(logSigmoid(0), -Math.LN2);
  assert.ok(Number.isFinite(logSigmoid(-1000)));
});

test('DPO sigmoid / conservative / IPO: values vs direct formulas, gradients vs central differences', () => {
  const piC = [-12.5, -3.25, -40], piR = [-11, -7.5, -38.75], refC = [-12, -4, -41], refR = [-10.5, -6, -39];
  for (const o of [{ beta: 0.1 }, { beta: 0.5, labelSmoothing: 0.2 }, { beta: 0.1, loss: 'ipo' as const }]) {
    const r = dpoBatch(piC, piR, refC, refR, o);
    let direct = 0;
    for (let i = 0; i < 3; i++) {
      const d = piC[i]! - refC[i]! - (piR[i]! - refR[i]!);
      if (o.loss === 'ipo') direct += (d - 1 / (2 * o.beta)) ** 2;
      else {
        const e = o.labelSmoothing ?? 0, h = o.beta * d;
        direct += -(1 - e) * Math.log(1 / (1 + Math.exp(-h))) - e * Math.log(1 / (1 + Math.exp(h)));
      }
    }
    close(r.loss, direct / 3, 1e-13, `loss ${JSON.stringify(o)}`);
    const f = (x: Float64Array) => dpoBatch(x.subarray(0, 3), x.subarray(3, 6), refC, refR, o).loss;
    const g = numericGrad(f, [...piC, ...piR], 1e-5);
    closeAll([...r.dChosen, ...r.dRejected], g, 1e-7, `grad ${JSON.stringify(o)}`);
    close(r.rewardsChosen, (o.beta * ((-12.5 + 12) + (-3.25 + 4) + (-40 + 41))) / 3, 1e-13, 'rewards/chosen');
    close(r.margin, r.rewardsChosen - r.rewardsRejected, 1e-13, 'margin');
  }
  // policy = reference: the loss is exactly log 2, rewards zero, gradient ±β/2
  const p = dpoPair(-5, -7, -5, -7, { beta: 0.1 });
  assert.equal(p.loss, Math.LN2);
  assert.equal(p.rewardChosen, 0);
  close(p.dChosen, -0.05, 1e-15, 'dChosen at h=0');
  // a micro-batch of a larger batch: gradients scaled by the full batch size
  const part = dpoBatch([piC[0]!], [piR[0]!], [refC[0]!], [refR[0]!], { beta: 0.1 }, 3);
  close(part.dChosen[0]!, dpoBatch(piC, piR, refC, refR, { beta: 0.1 }).dChosen[0]!, 1e-15, 'accumulation scaling');
});

test('reward-model ranking loss with margin: value and gradients vs central differences', () => {
  const rc = [1.5, -0.25, 3], rr = [0.5, 0.75, -2], m = [0, 1, 0.5];
  const r = rmBatch(rc, rr, m);
  const direct = rc.reduce((s, c, i) => s - Math.log(1 / (1 + Math.exp(-(c - rr[i]! - m[i]!)))), 0) / 3;
  close(r.loss, direct, 1e-13, 'loss');
  const g = numericGrad((x) => rmBatch(x.subarray(0, 3), x.subarray(3), m).loss, [...rc, ...rr]);
  closeAll([...r.dChosen, ...r.dRejected], g, 1e-7, 'grad');
  assert.equal(r.accuracy, 2 / 3);
  assert.equal(rmBatch([0], [0], null).loss, Math.LN2);
});

test('per-token rewards: −β·KL everywhere, the score added at the last token', () => {
  const { rewards, kl } = tokenRewards([-1, -2, -0.5], [-1.5, -1, -0.5], 2, 0.2);
  closeAll(kl, [0.5, -1, 0], 1e-15, 'kl');
  closeAll(rewards, [-0.1, 0.2, 2], 1e-15, 'rewards');
});

test('GAE against the direct sum of discounted TD errors', () => {
  const r = [0.1, -0.2, 0.3, 1.5], v = [0.5, 0.4, -0.1, 0.8], gamma = 0.9, lambda = 0.8;
  const { advantages, returns } = gae(r, v, gamma, lambda);
  const delta = r.map((x, t) => x + gamma * (t + 1 < r.length ? v[t + 1]! : 0) - v[t]!);
  const direct = r.map((_, t) => delta.slice(t).reduce((s, d, k) => s + (gamma * lambda) ** k * d, 0));
  closeAll(advantages, direct, 1e-14, 'advantages');
  closeAll(returns, direct.map((a, t) => a + v[t]!), 1e-14, 'returns');
  // λ = 1, γ = 1: the advantage is the return-to-go minus the value
  const mc = gae(r, v, 1, 1);
  closeAll(mc.advantages, r.map((_, t) => r.slice(t).reduce((s, x) => s + x, 0) - v[t]!), 1e-14, 'Monte Carlo');
});

test('masked whitening: zero mean, unit (unbiased) variance over the mask; masked entries untouched by statistics', () => {
  const x = [1, 2, 3, 100, 5], mask = [1, 1, 1, 0, 1];
  const w = maskedWhiten(x, mask);
  const mo = maskedMoments(w, mask);
  close(mo.mean, 0, 1e-12, 'mean');
  close(mo.variance, 1, 1e-7, 'variance');
  assert.equal(w[3], 0);
  const mean = (1 + 2 + 3 + 5) / 4, variance = ((1 - mean) ** 2 + (2 - mean) ** 2 + (3 - mean) ** 2 + (5 - mean) ** 2) / 3;
  close(w[0]!, (1 - mean) / Math.sqrt(variance + 1e-8), 1e-14, 'w[0]');
  close(maskedWhiten(x, mask, false)[0]!, (1 - mean) / Math.sqrt(variance + 1e-8) + mean, 1e-14, 'shiftMean=false');
});

test('PPO clipped surrogate: value, clip fraction, approx-KL and gradient vs central differences', () => {
  const old = [-1, -2, -0.5, -3, -1.2, -0.7];
  const logp = [-0.9, -2.3, -0.2, -3.05, -1.2, -0.1];  // ratios 1.105, 0.741, 1.35, 0.951, 1, 1.82
  const adv = [1, 1, -0.5, 2, 0.3, 1];
  const mask = [1, 1, 1, 1, 0, 1];
  const eps = 0.1;
  const r = ppoPolicyLoss(logp, old, adv, mask, eps);
  let loss = 0, clipped = 0, kl = 0;
  for (let i = 0; i < 6; i++) {
    if (!mask[i]) continue;
    const ratio = Math.exp(logp[i]! - old[i]!);
    const a = -adv[i]! * ratio, b = -adv[i]! * Math.min(Math.max(ratio, 1 - eps), 1 + eps);
    loss += Math.max(a, b);
    if (b > a) clipped++;
    kl += 0.5 * (logp[i]! - old[i]!) ** 2;
  }
  close(r.loss, loss / 5, 1e-14, 'loss');
  close(r.clipFraction, clipped / 5, 0, 'clip fraction');
  assert.ok(r.clipFraction > 0 && r.clipFraction < 1, 'the case exercises both branches');
  close(r.approxKl, kl / 5, 1e-14, 'approx KL');
  const g = numericGrad((x) => ppoPolicyLoss(x, old, adv, mask, eps).loss, logp, 1e-6);
  closeAll(r.dLogp, g, 1e-6, 'grad');
  assert.equal(r.dLogp[4], 0);
});

test('clipped value loss: value, clip fraction and gradient vs central differences', () => {
  const v = [0.5, 1.4, -0.3, 2, 0.1], vo = [0.45, 1, 0, 2.1, 0.3], R = [1, 0.2, -1, 2.5, 0.2], mask = [1, 1, 1, 1, 0];
  const clip = 0.2;
  const r = ppoValueLoss(v, vo, R, mask, clip);
  let loss = 0, clipped = 0;
  for (let i = 0; i < 4; i++) {
    const vc = vo[i]! + Math.min(Math.max(v[i]! - vo[i]!, -clip), clip);
    const a = (v[i]! - R[i]!) ** 2, b = (vc - R[i]!) ** 2;
    loss += 0.5 * Math.max(a, b);
    if (b > a) clipped++;
  }
  close(r.loss, loss / 4, 1e-14, 'loss');
  close(r.clipFraction, clipped / 4, 0, 'clip fraction');
  assert.ok(clipped > 0 && clipped < 4);
  const g = numericGrad((x) => ppoValueLoss(x, vo, R, mask, clip).loss, v, 1e-6);
  closeAll(r.dValues, g, 1e-6, 'grad');
});

test('GRPO group-normalised advantages; KL schedules; entropy', () => {
  const a = grpoAdvantages([1, 2, 3, 4, 0, 0, 0, 1], 4);
  const std1 = Math.sqrt(((1.5 ** 2) * 2 + 0.5 ** 2 * 2) / 3);
  close(a[0]!, -1.5 / (std1 + 1e-4), 1e-14, 'group 1');
  const std2 = Math.sqrt((0.25 ** 2 * 3 + 0.75 ** 2) / 3);
  close(a[7]!, 0.75 / (std2 + 1e-4), 1e-14, 'group 2');
  closeAll(grpoAdvantages([5, 5], 2), [0, 0], 0, 'equal rewards give zero advantage');
  assert.throws(() => grpoAdvantages([1, 2, 3], 2), /do not split/);
  close(klCoefficient(0, 350, 0.2, 0.005), 0.2, 1e-15, 'start');
  close(klCoefficient(349, 350, 0.2, 0.005), 0.005, 1e-12, 'end');
  close(klCoefficient(174.5, 350, 0.2, 0.005), Math.sqrt(0.2 * 0.005), 1e-12, 'geometric midpoint');
  close(klCoefficient(174.5, 350, 0.2, 0.005, 'linear'), 0.1025, 1e-12, 'linear midpoint');
  close(rowEntropy([0, 0, 0, 0]), Math.log(4), 1e-15, 'uniform entropy');
  assert.ok(rowEntropy([100, 0, 0]) < 1e-30);
});

test('GRPO k3 KL penalty: non-negative, zero at the reference, gradient vs central differences', () => {
  const logp = [-1, -2.5, -0.3, -4], ref = [-1.2, -2, -0.3, -3], mask = [1, 1, 1, 0];
  const r = k3KlPenalty(logp, ref, mask, 0.04);
  const direct = [0, 1, 2].reduce((s, i) => s + Math.exp(ref[i]! - logp[i]!) - (ref[i]! - logp[i]!) - 1, 0) / 3;
  close(r.kl, direct, 1e-14, 'kl');
  close(r.penalty, 0.04 * direct, 1e-14, 'penalty');
  assert.equal(k3KlPenalty(ref, ref, mask, 1).kl, 0);
  closeAll(r.dLogp, numericGrad((x) => k3KlPenalty(x, ref, mask, 0.04).penalty, logp, 1e-6), 1e-7, 'grad');
});
