// Module: a tree of named parameters and sub-modules, with train/eval mode.
// Parameter names are the dotted paths of registration, chosen by model code
// to equal Hugging Face checkpoint keys (e.g. model.layers.0.self_attn.W_pack.weight).
import { Tensor } from './tensor.js';

export class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  protected registerParameter(name: string, t: Tensor): Tensor {
    if (name.includes('.')) throw new Error(`registerParameter: '${name}' must not contain '.'`);
    if (this.params.has(name) || this.children.has(name)) throw new Error(`registerParameter: '${name}' already registered`);
    t.requiresGrad_(true);
    this.params.set(name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    if (this.params.has(name) || this.children.has(name)) throw new Error(`registerModule: '${name}' already registered`);
    this.children.set(name, m);
    return m;
  }

  /** Replace a registered parameter (e.g. when loading a checkpoint). */
  setParameter(path: string, t: Tensor): void {
    const dot = path.lastIndexOf('.');
    const owner = dot < 0 ? this : this.getModule(path.slice(0, dot));
    const leaf = dot < 0 ? path : path.slice(dot + 1);
    if (!owner.params.has(leaf)) throw new Error(`setParameter: no parameter named '${path}'`);
    t.requiresGrad_(owner.params.get(leaf)!.requiresGrad);
    owner.params.set(leaf, t);
    owner.modeChanged();
  }

  getModule(path: string): Module {
    let m: Module = this;
    for (const part of path.split('.')) {
      const c = m.children.get(part);
      if (!c) throw new Error(`getModule: no sub-module '${path}'`);
      m = c;
    }
    return m;
  }

  /** Own parameter by local name (model code uses this to read its weights). */
  protected param(name: string): Tensor {
    const p = this.params.get(name);
    if (!p) throw new Error(`no parameter '${name}'`);
    return p;
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this.params) yield [prefix + n, p];
    for (const [n, c] of this.children) yield* c.namedParameters(`${prefix}${n}.`);
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  *modules(): Generator<Module> {
    yield this;
    for (const c of this.children.values()) yield* c.modules();
  }

  train(flag = true): this {
    for (const m of this.modules()) {
      m.training = flag;
      m.modeChanged();
    }
    return this;
  }

  /** Hook for modules that cache derived weights per mode (e.g. NormHead). */
  protected modeChanged(): void {}

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }
}
