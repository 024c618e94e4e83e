// The reference implementations: plain float64 TypeScript, never optimised.
// They are the specification of every op and the oracle of the tests.
export { matmulRef } from './matmul.js';
export { rmsnormRef, l2normRowsRef } from './norm.js';
export { siluRef, swigluRef } from './activation.js';
export { ropeRef } from './rope.js';
export { attentionRef, type AttentionRefOptions } from './attention.js';
export { softmaxRef } from './softmax.js';
export { crossEntropyRef } from './loss.js';
export { adamwRef, type AdamWRefState } from './optim.js';
export { embeddingRef } from './embedding.js';
