// Nonlinear least squares for the scaling law L(C) = a * C^b + L_inf
// (Henighan et al. 2020, as fitted with SciPy's curve_fit in SPEC §6):
// Levenberg-Marquardt on (log a, b, L_inf) with an analytic Jacobian, started
// from a log-log linear fit. C is scaled internally to keep a near 1. Steps
// that leave a decreasing, finite law (0 > b >= -5) are rejected, so noisy or
// non-monotonic points give the best such law rather than a divergence.
export interface PowerLaw { a: number; b: number; lInf: number; rmse: number }

export function evalPowerLaw(p: PowerLaw, C: number): number {
  return p.a * C ** p.b + p.lInf;
}

function solve3(A: number[][], y: number[]): number[] | null {
  const M = A.map((r, i) => [...r, y[i]!]);
  for (let c = 0; c < 3; c++) {
    let piv = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r;
    if (Math.abs(M[piv]![c]!) < 1e-300) return null;
    [M[c], M[piv]] = [M[piv]!, M[c]!];
    for (let r = 0; r < 3; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k < 4; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return [0, 1, 2].map((i) => M[i]![3]! / M[i]![i]!);
}

export function fitPowerLaw(C: readonly number[], L: readonly number[]): PowerLaw {
  if (C.length !== L.length || C.length < 3) throw new RangeError(`fitPowerLaw: need at least 3 (C, L) points, got ${C.length}`);
  const scale = Math.exp(C.reduce((s, c) => s + Math.log(c), 0) / C.length);  // geometric mean
  const x = C.map((c) => c / scale);
  const lMin = Math.min(...L);
  // start: L_inf a bit below the smallest loss, then a straight line in log-log
  let lInf = lMin - 0.5 * (Math.max(...L) - lMin) - 1e-3;
  const lx = x.map(Math.log), ly = L.map((l) => Math.log(l - lInf));
  const mx = lx.reduce((s, v) => s + v, 0) / lx.length, my = ly.reduce((s, v) => s + v, 0) / ly.length;
  let b = lx.reduce((s, v, i) => s + (v - mx) * (ly[i]! - my), 0) / Math.max(1e-12, lx.reduce((s, v) => s + (v - mx) ** 2, 0));
  let la = my - b * mx;
  const resid = (la_: number, b_: number, li: number) => x.map((xi, i) => Math.exp(la_) * xi ** b_ + li - L[i]!);
  const sse = (r: number[]) => r.reduce((s, v) => s + v * v, 0);
  let r = resid(la, b, lInf);
  let lambda = 1e-3;
  for (let it = 0; it < 500; it++) {
    // Jacobian of the residuals with respect to (log a, b, L_inf)
    const J = x.map((xi) => { const f = Math.exp(la) * xi ** b; return [f, f * Math.log(xi), 1]; });
    const JtJ = [0, 1, 2].map((i) => [0, 1, 2].map((j) => J.reduce((s, row) => s + row[i]! * row[j]!, 0)));
    const Jtr = [0, 1, 2].map((i) => J.reduce((s, row, k) => s + row[i]! * r[k]!, 0));
    let improved = false;
    for (let tries = 0; tries < 20 && !improved; tries++) {
      const A = JtJ.map((row, i) => row.map((v, j) => (i === j ? v * (1 + lambda) : v)));
      const d = solve3(A, Jtr.map((v) => -v));
      if (!d) { lambda *= 10; continue; }
      const cand = resid(la + d[0]!, b + d[1]!, lInf + d[2]!);
      // keep the law decreasing and finite: 0 > b >= -5, |log a| bounded
      const ok = cand.every(Number.isFinite) && b + d[1]! < 0 && b + d[1]! >= -5 && Math.abs(la + d[0]!) < 200;
      if (ok && sse(cand) < sse(r)) {
        const gain = sse(r) - sse(cand);
        la += d[0]!; b += d[1]!; lInf += d[2]!; r = cand;
        lambda = Math.max(lambda / 10, 1e-12);
        improved = true;
        if (gain < 1e-15) it = 1e9;
      } else {
        lambda *= 10;
      }
    }
    if (!improved) break;
  }
  // undo the scaling of C: a * (C/scale)^b = (a * scale^-b) * C^b
  return { a: Math.exp(la) * scale ** -b, b, lInf, rmse: Math.sqrt(sse(r) / r.length) };
}
