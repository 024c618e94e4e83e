// Reference embedding lookup: out[i, :] = W[ids[i], :].
export function embeddingRef(ids: ArrayLike<number>, W: ArrayLike<number>, C: number): Float64Array {
  const out = new Float64Array(ids.length * C);
  for (let i = 0; i < ids.length; i++) for (let c = 0; c < C; c++) out[i * C + c] = W[ids[i]! * C + c]!;
  return out;
}
