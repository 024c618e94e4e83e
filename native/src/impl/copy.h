// Strided copy: the values of an n-d view (shape, element strides, any of them
// 0 for a broadcast dim) into another view of the same shape, elements of 2 or
// 4 bytes moved as raw bits (f32, i32, bf16, f16). The op layer's contiguous(),
// its permuted and broadcast copies and Tensor.copyStorage run through it; the
// TypeScript loop in src/engine/cpu-kernels.ts (copyStridedTS) is its
// specification and serves short copies. Size-1 dims are dropped and dims
// that are contiguous in both views merged, so a permuted [B, H, T, D] copy is
// B*H*T runs of D elements; the runs are split over threads in fixed chunks
// (a copy is exact, so the split cannot change a bit). Views must not overlap.

template <typename E>
static void copyRuns(const E* src, E* dst, int nd, const int64_t* shape, const int64_t* ss, const int64_t* ds) {
  // nd >= 1 dims after merging; the last is the run. Runs are numbered in row-major order.
  const int64_t n = shape[nd - 1], si = ss[nd - 1], di = ds[nd - 1];
  int64_t runs = 1;
  for (int d = 0; d < nd - 1; d++) runs *= shape[d];
  const int64_t chunk = runs * n >= (1 << 15) ? (runs + 63) / 64 : runs;  // fixed chunks, whatever the thread count
  const int64_t chunks = (runs + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t r0 = c * chunk, r1 = r0 + chunk < runs ? r0 + chunk : runs;
    int64_t idx[kCopyMaxDims];
    int64_t so = 0, dso = 0, rem = r0;
    for (int d = nd - 2; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      so += idx[d] * ss[d];
      dso += idx[d] * ds[d];
    }
    for (int64_t r = r0; r < r1; r++) {
      const E* s = src + so;
      E* o = dst + dso;
      if (si == 1 && di == 1) std::memcpy(o, s, static_cast<size_t>(n) * sizeof(E));
      else if (di == 1)
        for (int64_t j = 0; j < n; j++) o[j] = s[j * si];
      else
        for (int64_t j = 0; j < n; j++) o[j * di] = s[j * si];
      for (int d = nd - 2; d >= 0; d--) {  // next run: odometer over the outer dims
        so += ss[d];
        dso += ds[d];
        if (++idx[d] < shape[d]) break;
        so -= ss[d] * shape[d];
        dso -= ds[d] * shape[d];
        idx[d] = 0;
      }
    }
  }
}

static void copyStrided(const void* src, void* dst, int elemBytes, int ndim, const int64_t* shape, const int64_t* srcStrides,
                        const int64_t* dstStrides) {
  int64_t sh[kCopyMaxDims], ss[kCopyMaxDims], ds[kCopyMaxDims];
  int nd = 0;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 0) return;
    if (shape[d] == 1) continue;
    if (nd > 0 && ss[nd - 1] == srcStrides[d] * shape[d] && ds[nd - 1] == dstStrides[d] * shape[d]) {
      sh[nd - 1] *= shape[d];  // contiguous in both views: one dim
      ss[nd - 1] = srcStrides[d];
      ds[nd - 1] = dstStrides[d];
      continue;
    }
    sh[nd] = shape[d];
    ss[nd] = srcStrides[d];
    ds[nd] = dstStrides[d];
    nd++;
  }
  if (nd == 0) { sh[0] = 1; ss[0] = 1; ds[0] = 1; nd = 1; }  // one element
  if (elemBytes == 2) copyRuns(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), nd, sh, ss, ds);
  else copyRuns(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), nd, sh, ss, ds);
}
