// Reference attention, float64, materialising the full score matrix:
// o = softmax(q k^T * scale + slope_h * (j - i_abs), masked) v, for q [B, H, Tq, D]
// and k, v [B, H, Tk, D] (contiguous). A query with no visible key gives zeros.
export interface AttentionRefOptions {
  causal: boolean;
  past: number;
  scale: number;
  slopes?: ArrayLike<number>;
  keyMask?: ArrayLike<number>;
  /** [B, Tq]: a 0 row attends uniformly to all Tk keys (the official 13B padding behaviour). */
  queryMask?: ArrayLike<number>;
}

export function attentionRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, B: number, H: number, Tq: number, Tk: number, D: number, o: AttentionRefOptions): Float64Array {
  const out = new Float64Array(B * H * Tq * D);
  const s = new Float64Array(Tk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Tq; i++) {
        const qo = ((b * H + h) * Tq + i) * D;
        if (o.queryMask && o.queryMask[b * Tq + i] === 0) {
          for (let j = 0; j < Tk; j++)
            for (let c = 0; c < D; c++) out[qo + c] += v[((b * H + h) * Tk + j) * D + c]! / Tk;
          continue;
        }
        let mx = -Infinity;
        for (let j = 0; j < Tk; j++) {
          const visible = (!o.causal || j <= o.past + i) && (!o.keyMask || o.keyMask[b * Tk + j] !== 0);
          if (!visible) { s[j] = -Infinity; continue; }
          const ko = ((b * H + h) * Tk + j) * D;
          let d = 0;
          for (let c = 0; c < D; c++) d += q[qo + c]! * k[ko + c]!;
          s[j] = d * o.scale + (o.slopes ? o.slopes[h]! * (j - (o.past + i)) : 0);
          mx = Math.max(mx, s[j]!);
        }
        if (mx === -Infinity) continue;
        let z = 0;
        for (let j = 0; j < Tk; j++) z += s[j] === -Infinity ? 0 : Math.exp(s[j]! - mx);
        for (let j = 0; j < Tk; j++) {
          if (s[j] === -Infinity) continue;
          const p = Math.exp(s[j]! - mx) / z;
          const vo = ((b * H + h) * Tk + j) * D;
          for (let c = 0; c < D; c++) out[qo + c] += p * v[vo + c]!;
        }
      }
  return out;
}
