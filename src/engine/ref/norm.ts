// Reference RMSNorm and L2 row normalisation, float64.
export function rmsnormRef(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, cols: number, eps: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[r * cols + c]! ** 2;
    const rs = 1 / Math.sqrt(ss / cols + eps);
    for (let c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c]! * rs * w[c]!;
  }
  return y;
}

export function l2normRowsRef(x: ArrayLike<number>, rows: number, cols: number, eps = 1e-12): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[r * cols + c]! ** 2;
    const d = Math.max(Math.sqrt(ss), eps);
    for (let c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c]! / d;
  }
  return y;
}
