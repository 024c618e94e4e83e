// Reference cross-entropy with ignore-index and max-z (SPEC §4.8), float64:
// mean over non-ignored rows of (lse - x[t]) + zw * mean over all rows of max(x)^2.
export function crossEntropyRef(x: ArrayLike<number>, targets: ArrayLike<number>, rows: number, cols: number, ignoreIndex = -100, zw = 0): number {
  let ce = 0, n = 0, z = 0;
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) mx = Math.max(mx, x[r * cols + c]!);
    z += mx * mx;
    const t = targets[r]!;
    if (t === ignoreIndex) continue;
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c]! - mx);
    ce += mx + Math.log(s) - x[r * cols + t]!;
    n++;
  }
  return ce / n + (zw * z) / rows;
}
