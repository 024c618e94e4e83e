// The engine's public surface: tensors, autograd, ops, modules, backend seam.
export { Tensor, numel, contiguousStrides, shapeStr, type Shape, type GradNode } from './tensor.js';
export { type DType, type Storage, bf16ToF32, f32ToBf16, roundBf16, f16ToF32, f32ToF16 } from './dtype.js';
export { Rng } from './rng.js';
export { backward, noGrad, isGradEnabled } from './autograd.js';
export { Module } from './module.js';
export { backend, setBackend, setThreads, cpuBackend, kernelInfo, setKernels, setBf16Gemm, kernelLine, FUSED_OPS, type Backend, type Device, type FusedOp, type BinaryOp, type UnaryOp } from './backend.js';
export { KERNEL_BUILDS, BF16_GEMM_VARIANTS, type KernelBuild, type Bf16GemmVariant, type NativeInfo } from './native.js';
export { reshape, permute, transpose, narrow, expand, unsqueeze, contiguous, cast } from './ops/shape.js';
export { add, sub, mul, div, maximum, affine, scale, exp, log, sqrt, rsqrt, silu, swiglu, swigluComposed } from './ops/elementwise.js';
export { sum, mean, max } from './ops/reduce.js';
export { matmul, linear } from './ops/matmul.js';
export { embedding } from './ops/embedding.js';
export { rmsnorm, rmsnormComposed, l2normRows, l2normRowsComposed } from './ops/norm.js';
export { rope, ropeComposed, ropeTables, ropeInvFreq, alibiSlopes } from './ops/position.js';
export { attention, attentionComposed, type AttentionOptions } from './ops/attention.js';
export { softmax, logSoftmax } from './ops/softmax.js';
export { crossEntropy, crossEntropyComposed, targetLogProbs, targetLogProbsComposed, type CrossEntropyOptions, type CrossEntropyStats } from './ops/loss.js';
export { adamwStep, newAdamWSlot, gradNorm, clipGradNorm, type AdamWHyper, type AdamWSlot } from './ops/optim.js';
