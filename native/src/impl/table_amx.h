// The table of an AMX build (amx, amxemu; included last, inside the arch namespace):
// the AMX builds compile only what tiles change, the GEMM (gemm.h + gemm_amx.h) and the quantised
// products (quant.h + quant_amx.h), and take every other kernel from the avx512bf16 build, whose
// features they also need. Copying that table at dynamic initialisation is safe: it is a constant
// (function addresses and a literal), initialised before any dynamic initialiser runs.
static KernelTable amxTable() {
  KernelTable t = bc::avx512bf16::table;
  t.name = KERNEL_ARCH_NAME;
  t.caps = kCapInt8Gemm;
  t.gemm = gemm;
  t.quantizeRows = quantizeRows;
  t.dequantizeRows = dequantizeRows;
  t.qmatmul = qmatmulTiles;  // quant_amx.h
  t.readBytes = readBytes;
  t.bf16Gemm = bf16Gemm;
  return t;
}
const KernelTable table = amxTable();
