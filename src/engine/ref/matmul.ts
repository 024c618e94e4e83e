// Reference matmul in float64: C[b] = A[b] (M x K) @ B[b] (K x N), row-major,
// contiguous. The specification of ops/matmul.ts and the GEMM kernel.
export function matmulRef(A: ArrayLike<number>, B: ArrayLike<number>, M: number, N: number, K: number, batch = 1, bShared = false): Float64Array {
  const C = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++) {
    const ao = b * M * K, bo = bShared ? 0 : b * K * N, co = b * M * N;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[ao + i * K + k]! * B[bo + k * N + j]!;
        C[co + i * N + j] = s;
      }
  }
  return C;
}
