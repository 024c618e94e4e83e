// Reference rotate-half RoPE on x [B, T, H, D] (contiguous) with per-(b, t)
// positions, float64 throughout (the kernel uses f32 tables; they agree to f32 rounding).
export function ropeRef(x: ArrayLike<number>, B: number, T: number, H: number, D: number, positions: ArrayLike<number>, base = 10000): Float64Array {
  const y = new Float64Array(B * T * H * D);
  const half = D / 2;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const pos = positions[positions.length === T ? t : b * T + t]!;
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * D;
        for (let i = 0; i < half; i++) {
          const ang = pos / base ** ((2 * i) / D);
          const c = Math.cos(ang), s = Math.sin(ang);
          const x1 = x[o + i]!, x2 = x[o + half + i]!;
          y[o + i] = x1 * c - x2 * s;
          y[o + half + i] = x2 * c + x1 * s;
        }
      }
    }
  return y;
}
