// The tape. Each op that sees an input with requiresGrad (while gradients are
// enabled) attaches a GradNode to its output; backward() walks the graph in
// reverse topological order. Gradients are f32 and contiguous whatever the
// forward dtype (fp32 master gradients for bf16 parameters), and accumulate
// into leaf.grad across backward() calls until zeroed. Backward functions run
// with recording off: there are no higher-order gradients.
import { Tensor, shapeStr, type GradNode } from './tensor.js';
import { backend } from './backend.js';

export type { GradNode } from './tensor.js';

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

function withGrad<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs fn with gradient recording off (inference, optimizer steps, backward itself). */
export function noGrad<T>(fn: () => T): T {
  return withGrad(false, fn);
}

/** Runs fn with gradient recording on (activation recomputation inside a backward pass). */
export function enableGrad<T>(fn: () => T): T {
  return withGrad(true, fn);
}

/**
 * Activation recomputation: run `fn` without keeping its intermediate tensors;
 * in the backward pass run it again with recording on and backpropagate
 * through that copy. Trades one extra forward of `fn` for its activation
 * memory. `fn` must be deterministic (it is: no dropout in this model).
 * Parameters used inside `fn` receive their gradients during the recomputation.
 */
export function checkpoint(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[]): Tensor {
  if (!needsGrad(...inputs) && !gradEnabled) return fn(...inputs);
  const out = noGrad(() => fn(...inputs)).detach();
  if (!gradEnabled) return out;
  out.requiresGrad = true;
  out.gradFn = {
    op: 'checkpoint',
    inputs,
    backward(g: Tensor) {
      const ins = inputs.map((t) => { const d = t.detach(); if (t.requiresGrad) d.requiresGrad_(true); return d; });
      const y = enableGrad(() => fn(...ins));
      if (y.requiresGrad) backward(y, g);
      return ins.map((d) => d.grad);
    },
  };
  return out;
}

export function needsGrad(...inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/** Attach a node to `out` when any input needs a gradient; returns `out`. */
export function record(out: Tensor, op: string, inputs: readonly (Tensor | null)[], backward: GradNode['backward']): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  out.gradFn = { op, inputs, backward };
  return out;
}

// Gradients a backward function allocated itself and hands to nobody else
// (e.g. a Linear's dW, fresh from its GEMM): a leaf keeps such a tensor as its
// .grad instead of copying it. Anything unmarked (a backward may pass its
// incoming gradient through, or a view of it) is copied, as before.
const owned = new WeakSet<Tensor>();

/** Marks `t` as a fresh gradient buffer that no other tensor shares; returns it. */
export function ownedGrad(t: Tensor): Tensor {
  owned.add(t);
  return t;
}

function asGrad(g: Tensor, like: Tensor, op: string): Tensor {
  if (g.shape.length !== like.shape.length || g.shape.some((d, i) => d !== like.shape[i]))
    throw new Error(`autograd: ${op} returned a gradient of shape ${shapeStr(g.shape)} for an input of shape ${shapeStr(like.shape)}`);
  if (g.dtype === 'f32' && g.isContiguous()) return g;
  return Tensor.from(g.f32(), like.shape, 'f32');
}

export interface BackwardOptions {
  /** Keep the graph's nodes so backward can run again through it. */
  retainGraph?: boolean;
}

/** Backpropagate from `root` (a scalar unless `grad` is given). */
export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) throw new Error('backward: the tensor does not require grad (no parameter reached it, or it was computed under noGrad)');
  if (!grad && root.size !== 1) throw new Error(`backward: root has shape ${shapeStr(root.shape)}; pass a gradient for non-scalar outputs`);
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative post-order DFS (graphs of deep models overflow recursion).
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.gradFn?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const inp = inputs[i];
      if (inp && inp.requiresGrad && !seen.has(inp)) {
        seen.add(inp);
        stack.push([inp, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  const grads = new Map<Tensor, Tensor>();
  const bufs = new GradBuffers(order, grad);
  const set = (t: Tensor, g: Tensor) => { bufs.hold(g); grads.set(t, g); };
  set(root, grad ? asGrad(grad, root, 'backward') : Tensor.full(root.shape, 1));
  noGrad(() => {
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k]!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      bufs.release(g);
      const node = t.gradFn;
      if (!node) {
        // A leaf owns its gradient buffer (optimizers scale it in place).
        if (!t.grad && owned.delete(g) && g.dtype === 'f32' && g.isContiguous()) {
          t.grad = g;
          bufs.keep(g);
        } else {
          t.grad = t.grad ? addGrad(t.grad, g) : g.astype('f32');
          bufs.consumed(g);
        }
        bufs.freeConsumed();
        continue;
      }
      const ins = node.backward(g);
      bufs.consumed(g);
      node.inputs.forEach((inp, j) => {
        const gi = ins[j];
        if (!inp || !inp.requiresGrad || !gi) return;
        const gin = asGrad(gi, inp, node.op);
        const prev = grads.get(inp);
        if (!prev) return set(inp, gin);
        // a fresh sum, never in place: an op may have handed back a shared tensor
        bufs.release(prev);
        set(inp, ownedGrad(addGrad(prev, gin)));
        bufs.consumed(prev);
        bufs.consumed(gin);
      });
      bufs.freeConsumed();
      if (!opts.retainGraph) t.gradFn = null;
    }
  });
}

/**
 * Which gradient buffers backward() may give back to the backend once they
 * are consumed. A gradient's buffer can be shared (a backward may pass its
 * incoming gradient on, or a view of it, to several inputs), so buffers are
 * counted while pending in the map; one is freed only when no pending
 * gradient and no leaf uses it, and when it belongs to no tensor of the graph
 * (parameters, activations, the caller's seed gradient, a leaf's earlier
 * .grad): those may be held elsewhere. Freeing waits until a node's inputs are
 * all handled (an op may return one tensor for two inputs).
 */
class GradBuffers {
  private readonly pending = new Map<ArrayBufferLike, number>();
  private readonly guarded = new Set<ArrayBufferLike>();
  private candidates: Tensor[] = [];
  constructor(order: readonly Tensor[], seed: Tensor | undefined) {
    for (const t of order) {
      this.guarded.add(t.data.buffer);
      if (t.grad) this.guarded.add(t.grad.data.buffer);
      for (const i of t.gradFn?.inputs ?? []) if (i) this.guarded.add(i.data.buffer);
    }
    if (seed) this.guarded.add(seed.data.buffer);
  }
  hold(g: Tensor): void {
    this.pending.set(g.data.buffer, (this.pending.get(g.data.buffer) ?? 0) + 1);
  }
  release(g: Tensor): void {
    this.pending.set(g.data.buffer, this.pending.get(g.data.buffer)! - 1);
  }
  /** g now belongs to a leaf: never freed. */
  keep(g: Tensor): void {
    this.guarded.add(g.data.buffer);
  }
  consumed(g: Tensor): void {
    this.candidates.push(g);
  }
  freeConsumed(): void {
    const done = new Set<ArrayBufferLike>();
    for (const g of this.candidates) {
      const b = g.data.buffer;
      if (done.has(b) || this.guarded.has(b) || (this.pending.get(b) ?? 0) > 0) continue;
      done.add(b);  // freed once (the pool may hand it out again, to a new owner)
      backend().free(g.data);
    }
    this.candidates = [];
  }
}

function addGrad(a: Tensor, b: Tensor): Tensor {
  const out = backend().alloc('f32', a.size) as Float32Array;
  backend().binary('add', a.f32(), b.f32(), out);
  return Tensor.from(out, a.shape, 'f32');
}
