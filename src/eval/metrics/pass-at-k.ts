// The unbiased pass@k estimator of Chen et al. (2021), as in openai/human-eval:
// with n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k), computed
// as a running product so it stays exact in float64 for large n.

export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k) || n < 1 || c < 0 || c > n || k < 1)
    throw new RangeError(`passAtK: need integers n >= 1, 0 <= c <= n, k >= 1 (got n=${n} c=${c} k=${k})`);
  if (k > n) throw new RangeError(`passAtK: k=${k} exceeds the ${n} samples`);
  if (n - c < k) return 1;
  let prod = 1;
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
  return 1 - prod;
}

/** Mean pass@k over problems, each given as [samples, passed]. */
export function meanPassAtK(results: ReadonlyArray<readonly [number, number]>, k: number): number {
  if (!results.length) return 0;
  return results.reduce((s, [n, c]) => s + passAtK(n, c, k), 0) / results.length;
}
