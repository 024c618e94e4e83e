// Every kernel source, in dependency order. Included once per arch.
#include "common.h"
#if defined(KERNEL_AMX)
#include "amx_tile.h"
#endif
#include "gemm.h"
#include "norm.h"
#include "elementwise.h"
#include "loss.h"
#include "attention.h"
#include "optim.h"
#include "quant.h"
#if defined(KERNEL_AMX)
#include "gemm_amx.h"
#include "quant_amx.h"
#endif
#include "table.h"
