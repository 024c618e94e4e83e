// Reference row softmax / log-softmax, float64.
export function softmaxRef(x: ArrayLike<number>, rows: number, cols: number, log = false): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) mx = Math.max(mx, x[r * cols + c]!);
    let z = 0;
    for (let c = 0; c < cols; c++) z += Math.exp(x[r * cols + c]! - mx);
    for (let c = 0; c < cols; c++) y[r * cols + c] = log ? x[r * cols + c]! - mx - Math.log(z) : Math.exp(x[r * cols + c]! - mx) / z;
  }
  return y;
}
