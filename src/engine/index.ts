// The engine's public surface: tensors, autograd, ops, modules, backend seam.
export { Tensor, numel, contiguousStrides, shapeStr, type Shape } from './tensor.js';
export { type DType, type Storage, bf16ToF32, f32ToBf16, roundBf16, f16ToF32, f32ToF16 } from './dtype.js';
export { Rng } from './rng.js';
export { backward, noGrad, isGradEnabled, type GradNode } from './autograd.js';
export { Module } from './module.js';
export { backend, setBackend, setThreads, cpuBackend, kernelInfo, setKernels, kernelLine, type Backend } from './backend.js';
export { KERNEL_BUILDS, type KernelBuild, type NativeInfo } from './native.js';
export { reshape, permute, transpose, narrow, expand, unsqueeze, contiguous, cast } from './ops/shape.js';
export { add, sub, mul, scale, silu, swiglu } from './ops/elementwise.js';
export { sum, mean, max } from './ops/reduce.js';
export { matmul, linear } from './ops/matmul.js';
export { embedding } from './ops/embedding.js';
export { rmsnorm, l2normRows } from './ops/norm.js';
export { rope, ropeTables, ropeInvFreq, alibiSlopes } from './ops/position.js';
export { attention, type AttentionOptions } from './ops/attention.js';
export { softmax, logSoftmax } from './ops/softmax.js';
export { crossEntropy, type CrossEntropyOptions, type CrossEntropyStats } from './ops/loss.js';
export { adamwStep, newAdamWSlot, gradNorm, clipGradNorm, type AdamWHyper, type AdamWSlot } from './ops/optim.js';
