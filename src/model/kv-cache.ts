// The KV cache: per layer, keys and values of every position seen so far, in
// preallocated [B, H, capacity, D] f32 buffers (no per-token allocation), plus
// the key padding mask [B, capacity]. Attention reads a strided view of the
// first `length` positions, so nothing is copied per step.
export class KvCache {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  /** 1 = real token, 0 = padding, for every cached position of every row. */
  readonly mask: Int32Array;
  length = 0;

  constructor(readonly layers: number, readonly B: number, readonly H: number, readonly D: number, readonly capacity: number) {
    const n = B * H * capacity * D;
    this.keys = Array.from({ length: layers }, () => new Float32Array(n));
    this.values = Array.from({ length: layers }, () => new Float32Array(n));
    this.mask = new Int32Array(B * capacity);
  }

  /** Strides of the cache buffers viewed as [B, H, T, D]. */
  get strides(): [number, number, number, number] {
    return [this.H * this.capacity * this.D, this.capacity * this.D, this.D, 1];
  }

  /** Record the padding mask of `T` new positions (row-major [B, T]); call once per forward, before the layers. */
  appendMask(T: number, mask: ArrayLike<number> | null): void {
    if (this.length + T > this.capacity) throw new RangeError(`KV cache: ${this.length} + ${T} positions exceed its capacity ${this.capacity}`);
    for (let b = 0; b < this.B; b++)
      for (let t = 0; t < T; t++) this.mask[b * this.capacity + this.length + t] = mask ? (mask[b * T + t] ? 1 : 0) : 1;
  }

  /** Write k/v of T new positions, given as f32 [B, T, H, D] contiguous, for one layer. */
  write(layer: number, k: Float32Array, v: Float32Array, T: number): void {
    const { B, H, D, capacity } = this;
    const K = this.keys[layer]!, V = this.values[layer]!;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++) {
          const src = ((b * T + t) * H + h) * D;
          const dst = ((b * H + h) * capacity + this.length + t) * D;
          K.set(k.subarray(src, src + D), dst);
          V.set(v.subarray(src, src + D), dst);
        }
  }

  /** The key mask of the first `n` positions as a dense [B, n] array. */
  maskPrefix(n: number): Int32Array {
    const out = new Int32Array(this.B * n);
    for (let b = 0; b < this.B; b++) out.set(this.mask.subarray(b * this.capacity, b * this.capacity + n), b * n);
    return out;
  }

  /** Forget every cached position (the buffers are reused). */
  reset(): void {
    this.length = 0;
    this.mask.fill(0);
  }
}

/**
 * A KV cache of independent slots for continuous batching: slot s holds one
 * sequence of `lengths[s]` positions in [slots, H, capacity, D] buffers. A
 * forward over slots (ForwardOptions.slots) appends T positions to each listed
 * slot at its own length, and attention reads each row's own prefix alone, so a
 * row's result does not depend on which other slots share the step.
 */
export class SlotKvCache {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  readonly lengths: Int32Array;

  constructor(readonly layers: number, readonly slots: number, readonly H: number, readonly D: number, readonly capacity: number) {
    const n = slots * H * capacity * D;
    this.keys = Array.from({ length: layers }, () => new Float32Array(n));
    this.values = Array.from({ length: layers }, () => new Float32Array(n));
    this.lengths = new Int32Array(slots);
  }

  /** Bytes held by the key and value buffers. */
  get bytes(): number {
    return 2 * this.layers * this.slots * this.H * this.capacity * this.D * 4;
  }

  /** Strides of the buffers viewed as [slots, H, capacity, D]. */
  get strides(): [number, number, number, number] {
    return [this.H * this.capacity * this.D, this.capacity * this.D, this.D, 1];
  }

  /** Write k/v of T new positions of the given slots (f32 [rows, T, H, D] contiguous) at each slot's length. */
  write(layer: number, rows: readonly number[], k: Float32Array, v: Float32Array, T: number): void {
    const { H, D, capacity } = this;
    const K = this.keys[layer]!, V = this.values[layer]!;
    rows.forEach((s, b) => {
      const at = this.lengths[s]!;
      if (at + T > capacity) throw new RangeError(`KV slot ${s}: ${at} + ${T} positions exceed its capacity ${capacity}`);
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++) {
          const src = ((b * T + t) * H + h) * D;
          const dst = ((s * H + h) * capacity + at + t) * D;
          K.set(k.subarray(src, src + D), dst);
          V.set(v.subarray(src, src + D), dst);
        }
    });
  }

  /** Forget a slot's positions (its buffers are reused by the next sequence). */
  free(slot: number): void {
    this.lengths[slot] = 0;
  }
}
