// Every kernel source, in dependency order. Included once per arch.
#include "common.h"
#include "gemm.h"
#include "norm.h"
#include "elementwise.h"
#include "loss.h"
#include "attention.h"
#include "optim.h"
#include "table.h"
