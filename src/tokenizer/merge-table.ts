// An open-addressing hash table from (left piece id, right piece id) to the id
// of the piece that is their concatenation: BPE's merge candidates, looked up
// with two integers instead of building and hashing a substring per pair.
export class MergeTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly merged: Int32Array;
  private readonly mask: number;
  size = 0;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.merged = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(a: number, b: number): number {
    return ((Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0) & this.mask;
  }

  set(a: number, b: number, id: number): void {
    let i = this.slot(a, b);
    while (this.left[i] !== -1) {
      if (this.left[i] === a && this.right[i] === b) return;  // keep the first (lowest id) entry
      i = (i + 1) & this.mask;
    }
    this.left[i] = a;
    this.right[i] = b;
    this.merged[i] = id;
    this.size++;
  }

  /** The merged id, or -1. */
  get(a: number, b: number): number {
    let i = this.slot(a, b);
    for (;;) {
      const l = this.left[i]!;
      if (l === -1) return -1;
      if (l === a && this.right[i] === b) return this.merged[i]!;
      i = (i + 1) & this.mask;
    }
  }
}
